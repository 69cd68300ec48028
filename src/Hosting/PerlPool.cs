using System.Threading.Channels;
using PerlSentry.Engine.PerlApi;
using PerlSentry.PerlBridge;

namespace PerlSentry.Hosting;

/// <summary>What each interpreter of a <see cref="PerlPool"/> loads, and how many calls may wait.</summary>
public sealed class PerlPoolOptions
{
    /// <summary>How many interpreters (each on a thread of its own). Default: the number of processors.</summary>
    public int Interpreters { get; set; } = Environment.ProcessorCount;

    /// <summary>Directories put on <c>@INC</c>, as <c>perl -I</c>.</summary>
    public IList<string> IncludeDirs { get; } = [];

    /// <summary>Modules every interpreter loads at start (<c>require</c>), in order.</summary>
    public IList<string> Modules { get; } = [];

    /// <summary>A Perl file every interpreter runs at start (<c>do FILE</c>): the subs the calls name.</summary>
    public string? AppFile { get; set; }

    /// <summary>How many calls may wait for an interpreter; past that a call is refused at once. Default 1,000.</summary>
    public int MaxQueued { get; set; } = 1000;

    /// <summary>
    /// How long a call may run. Past it the Perl code dies at its next safe point and the call ends
    /// with a <see cref="TimeoutException"/>; code that does not stop within <see cref="StopGrace"/>
    /// (blocked in a system call, or catching the die) loses its interpreter, which a fresh one
    /// replaces. Default: no limit.
    /// </summary>
    public TimeSpan? CallTimeout { get; set; }

    /// <summary>How long stopped code has to end before its interpreter is replaced. Default 1 s.</summary>
    public TimeSpan StopGrace { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Sentry for the Perl code: the options of <c>Sentry::SDK-&gt;init</c> (the same names: <c>dsn</c>,
    /// <c>traces_sample_rate</c>, <c>profiles_sample_rate</c>, …), given to every interpreter. Each call
    /// is then a transaction named after the sub (op <c>perl.call</c>) with its profile, on the
    /// interpreter's own thread, and a <c>die</c> is an event. Null (the default): no SDK.
    /// </summary>
    public IDictionary<string, object?>? Sentry { get; set; }

    /// <summary>Run on each interpreter's thread after the modules and before the app file (the PSGI server's subs).</summary>
    internal Action<PerlInterpreter>? Setup { get; set; }

    /// <summary>How a timeout's message names <see cref="CallTimeout"/> (the PSGI server names its own option).</summary>
    internal string CallTimeoutName { get; set; } = "PerlPoolOptions.CallTimeout";
}

/// <summary>The caller's trace, continued by a call (the <c>sentry-trace</c> and <c>baggage</c> header values).</summary>
public sealed record PerlTrace(string SentryTrace, string? Baggage = null);

/// <summary>Calls into Perl on a pool of interpreters.</summary>
public interface IPerlPool : IAsyncDisposable
{
    /// <summary>How many interpreters the pool has.</summary>
    int Size { get; }

    /// <summary>
    /// Calls the Perl sub <paramref name="sub"/> (a full name, <c>My::App::handle</c>) in scalar context
    /// on the next free interpreter. Its value comes back as a .NET value (numbers, strings, arrays,
    /// hashes); a <c>die</c> as a <see cref="PerlException"/>.
    /// </summary>
    /// <exception cref="PerlPoolFullException">More than <see cref="PerlPoolOptions.MaxQueued"/> calls are waiting.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was cancelled before an interpreter took the call.</exception>
    /// <exception cref="ObjectDisposedException">The pool is being stopped.</exception>
    Task<object?> InvokeAsync(string sub, object?[] args, CancellationToken cancel = default);

    /// <summary>The same, continuing <paramref name="trace"/> when the pool has Sentry options.</summary>
    Task<object?> InvokeAsync(string sub, object?[] args, PerlTrace? trace, CancellationToken cancel = default);
}

/// <summary>The pool's queue of waiting calls is full: the caller should shed load or retry later.</summary>
public sealed class PerlPoolFullException(int maxQueued)
    : InvalidOperationException($"the Perl pool is busy: {maxQueued} calls are already waiting for an interpreter (PerlPoolOptions.MaxQueued)");

/// <summary>
/// N interpreters, each on a dedicated thread and each loaded with the same code once at start; calls
/// go to whichever is free, in the order they came, at most <see cref="PerlPoolOptions.MaxQueued"/>
/// waiting. Stopping lets running calls finish; calls still waiting end with <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class PerlPool : IPerlPool
{
    private readonly List<PerlInterpreter> _interpreters;
    private readonly PerlPoolOptions _options;
    private readonly Channel<PerlInterpreter> _free;
    private readonly CancellationTokenSource _stopping = new();
    private readonly int _maxQueued;
    private int _waiting;
    private int _running;
    private int _disposed;

    private PerlPool(PerlInterpreter[] interpreters, PerlPoolOptions options)
    {
        _interpreters = [.. interpreters];
        _options = options;
        _maxQueued = options.MaxQueued;
        _free = Channel.CreateUnbounded<PerlInterpreter>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
        foreach (var perl in interpreters)
            _free.Writer.TryWrite(perl);
    }

    /// <inheritdoc/>
    public int Size => _options.Interpreters;

    /// <summary>Whether the pool takes calls (it was not stopped).</summary>
    public bool IsRunning => Volatile.Read(ref _disposed) == 0;

    /// <summary>How many calls wait for an interpreter now.</summary>
    public int Waiting => Math.Max(0, Volatile.Read(ref _waiting));

    /// <summary>How many interpreters were replaced: stopped code that would not end, or retired by their call.</summary>
    public int Replaced => Volatile.Read(ref _replaced);

    private int _replaced;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<PerlInterpreter, bool> _retiring = new();

    /// <summary>
    /// From a call's work on <paramref name="perl"/>: when the call ends, the interpreter is ended (its
    /// SDK flushed) and a fresh one takes its place (PSGI's <c>psgix.harakiri</c>).
    /// </summary>
    internal void Retire(PerlInterpreter perl) => _retiring[perl] = true;

    /// <summary>
    /// Starts the interpreters (in parallel) and loads the modules and the app file into each.
    /// Throws <see cref="ArgumentException"/> for bad options and <see cref="PerlException"/> when the
    /// code does not load (naming the file and line).
    /// </summary>
    public static PerlPool Start(PerlPoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Problems(options, "PerlPoolOptions.") is [var first, ..])
            throw new ArgumentException(first, nameof(options));
        // EV (libev-perl, which Mojolicious loads when it is there) keeps C-level state of the one
        // interpreter that loaded it: a second interpreter in the process crashes in it (measured: 1 start
        // in 2 with Mojolicious loaded). Mojolicious is pointed at its pure-Perl reactor unless told otherwise.
        if (string.IsNullOrEmpty(HostProcess.GetNativeEnvironment("MOJO_REACTOR")))
            HostProcess.SetNativeEnvironment("MOJO_REACTOR", "Mojo::Reactor::Poll");
        var started = new PerlInterpreter?[options.Interpreters];
        try
        {
            Parallel.For(0, started.Length, i => started[i] = StartOne(options, i + 1));
        }
        catch (AggregateException e)
        {
            foreach (var perl in started)
                perl?.Dispose();
            throw e.InnerExceptions[0];
        }
        return new PerlPool([.. started.Select(p => p!)], options);
    }

    /// <summary>What is wrong with <paramref name="options"/>, each naming the setting after <paramref name="prefix"/>.</summary>
    internal static List<string> Problems(PerlPoolOptions options, string prefix)
    {
        var problems = new List<string>();
        if (options.Interpreters < 1)
            problems.Add($"{prefix}Interpreters must be at least 1 (was {options.Interpreters})");
        if (options.MaxQueued < 0)
            problems.Add($"{prefix}MaxQueued cannot be negative (was {options.MaxQueued})");
        if (options.CallTimeout is { } timeout && timeout <= TimeSpan.Zero)
            problems.Add($"{prefix}CallTimeout must be positive (was {timeout})");
        if (options.AppFile is { } app && !File.Exists(app))
            problems.Add($"{prefix}AppFile: no file {app}");
        return problems;
    }

    /// <summary>An interpreter with the pool's code loaded (at start, and for one that replaces a stuck one).</summary>
    private static PerlInterpreter StartOne(PerlPoolOptions options, int number)
    {
        IEnumerable<string> inc = options.IncludeDirs;
        // The SDK's modules and the pool's own Perl halves (PerlSentry::Pool, PerlSentry::PSGI), shipped
        // next to the assemblies: for a pool with Sentry options or with its own setup (the PSGI server).
        if ((options.Sentry is not null || options.Setup is not null) && Path.Combine(AppContext.BaseDirectory, "perl", "lib") is var bundled
            && Directory.Exists(bundled) && !options.IncludeDirs.Contains(bundled))
            inc = inc.Append(bundled);
        var perl = PerlInterpreter.Start(inc, threadName: $"perl-pool-{number}");   // each its own thread in profiles
        try
        {
            Load(perl, options);
        }
        catch
        {
            perl.Dispose();
            throw;
        }
        return perl;
    }

    private static void Load(PerlInterpreter perl, PerlPoolOptions options)
    {
        if (options.Sentry is { } sentry)
        {
            HostApi.Install(perl);
            perl.Eval("require PerlSentry::Pool; 1");
            perl.CallList("Sentry::SDK::init", "Sentry::SDK", new Dictionary<string, object?>(sentry));   // a bad option dies here, named
        }
        foreach (var module in options.Modules)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(module, @"\A[A-Za-z_]\w*(?:::\w+)*\z"))
                throw new ArgumentException($"PerlPoolOptions.Modules: '{module}' is not a module name", nameof(options));
            perl.Eval($"require {module}; 1");
        }
        options.Setup?.Invoke(perl);
        if (options.AppFile is { } app)
        {
            // do FILE: a compile error is in $@, a failed read in $!; either is the start's error.
            var quoted = "'" + Path.GetFullPath(app).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
            perl.Eval($"my $f = {quoted}; local $!; my $r = do $f; die \"cannot load $f: $@\" if $@; die \"cannot read $f: $!\\n\" if !defined $r && $!; 1");
        }
    }

    /// <inheritdoc/>
    public Task<object?> InvokeAsync(string sub, object?[] args, CancellationToken cancel = default) => InvokeAsync(sub, args, null, cancel);

    /// <inheritdoc/>
    public Task<object?> InvokeAsync(string sub, object?[] args, PerlTrace? trace, CancellationToken cancel = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sub);
        return RunAsync(sub, perl => _options.Sentry is null ? perl.Call(sub, args)
            : perl.Call("PerlSentry::Pool::call", [sub, trace?.SentryTrace, trace?.Baggage, .. args]), cancel);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the next free interpreter's thread, with the pool's queue bound,
    /// timeout and replacement; <paramref name="what"/> names it in a timeout's message.
    /// </summary>
    internal async Task<T> RunAsync<T>(string what, Func<PerlInterpreter, T> work, CancellationToken cancel = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Increment(ref _waiting) > _maxQueued && _free.Reader.Count == 0)
        {
            Interlocked.Decrement(ref _waiting);
            throw new PerlPoolFullException(_maxQueued);
        }
        PerlInterpreter perl;
        try
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancel, _stopping.Token);
            perl = await _free.Reader.ReadAsync(both.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested && !cancel.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(PerlPool), "the Perl pool was stopped before an interpreter took the call");
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(PerlPool), "the Perl pool was stopped before an interpreter took the call");
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
        Interlocked.Increment(ref _running);
        var keep = true;
        try
        {
            var call = perl.InvokeAsync(() =>
            {
                perl.Interrupt(null);   // one meant for the call before (it ended as it came) is void
                return work(perl);
            });
            if (_options.CallTimeout is not { } limit)
                return await call.ConfigureAwait(false);
            try
            {
                return await call.WaitAsync(limit).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // still running: stopped below
            }
            var message = $"{what} ran longer than {limit.TotalSeconds:0.###} s ({_options.CallTimeoutName}) and was stopped";
            perl.Interrupt(message);
            try
            {
                return await call.WaitAsync(_options.StopGrace).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                keep = false;
                Replace(perl);
                throw new TimeoutException(message + $"; it did not stop within {_options.StopGrace.TotalSeconds:0.###} s, so its interpreter was replaced");
            }
            catch (PerlException e) when (e.Message.StartsWith(message, StringComparison.Ordinal))
            {
                throw new TimeoutException(e.Message, e);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            if (keep && _retiring.TryRemove(perl, out _))
            {
                keep = false;
                Replace(perl, retired: true);
            }
            if (keep)
                _free.Writer.TryWrite(perl);
        }
    }

    /// <summary>
    /// An interpreter whose code would not stop: it is left to its thread (which cannot be ended from
    /// outside) and a fresh one, loaded the same way, takes its place.
    /// </summary>
    private void Replace(PerlInterpreter stuck, bool retired = false)
    {
        Interlocked.Increment(ref _replaced);
        lock (_interpreters)
            _interpreters.Remove(stuck);
        _ = Task.Run(() =>
        {
            if (retired)
                End(stuck);   // it finished its call: it can be ended, unlike a stuck one
            if (Volatile.Read(ref _disposed) != 0)
                return;
            var fresh = StartOne(_options, _options.Interpreters + Replaced);
            lock (_interpreters)
                _interpreters.Add(fresh);
            _free.Writer.TryWrite(fresh);
        });
    }

    /// <summary>Stops taking calls, lets running ones finish (up to 30 s), then ends the interpreters.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping.Cancel();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Volatile.Read(ref _running) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
        _free.Writer.TryComplete();
        List<PerlInterpreter> all;
        lock (_interpreters)
            all = [.. _interpreters];
        foreach (var perl in all)
            End(perl);
        _stopping.Dispose();
    }

    /// <summary>Flushes the interpreter's SDK (whoever called init: the pool or the app) and ends it.</summary>
    private static void End(PerlInterpreter perl)
    {
        try
        {
            perl.Eval("Sentry::SDK->close if $Sentry::Internal::INITIALISED; 1");   // up to shutdown_timeout
        }
        catch (PerlException)
        {
        }
        perl.Dispose();
    }
}
