using PerlSentry.Engine.PerlApi;
using PerlSentry.Engine.Session;
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
    // Calls waiting for an interpreter, in the order they came. Each interpreter's thread takes the
    // next one itself as soon as it is done with the last, so under load no other thread stands
    // between two calls; an idle one waits on the semaphore (a short spin, then asleep).
    private readonly System.Collections.Concurrent.ConcurrentQueue<PoolCall> _calls = new();
    private readonly SemaphoreSlim _available = new(0);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<PerlInterpreter, bool> _retiring = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<PerlInterpreter, bool> _abandoned = new();
    private readonly int _maxQueued;
    private int _pending;   // calls queued or running
    private int _waiting;   // calls queued
    private int _running;
    private int _replaced;
    private int _disposed;
    private readonly RequestTracer _tracer = new(SentryApi.Warn);

    /// <summary>The traced call the interpreter of this thread is running (a pool with Sentry options).</summary>
    [ThreadStatic] private static TracedCall? t_traced;

    private PerlPool(PerlInterpreter[] interpreters, PerlPoolOptions options)
    {
        _interpreters = [.. interpreters];
        _options = options;
        _maxQueued = options.MaxQueued;
        foreach (var perl in interpreters)
            StartWorker(perl);
    }

    /// <inheritdoc/>
    public int Size => _options.Interpreters;

    /// <summary>Whether the pool takes calls (it was not stopped).</summary>
    public bool IsRunning => !Closed;

    private bool Closed => Volatile.Read(ref _disposed) != 0;

    /// <summary>How many calls wait for an interpreter now.</summary>
    public int Waiting => Math.Max(0, Volatile.Read(ref _waiting));

    /// <summary>How many interpreters were replaced: stopped code that would not end, or retired by their call.</summary>
    public int Replaced => Volatile.Read(ref _replaced);

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
            perl.DefineSub("PerlSentry::Pool::_begin", Begin);
            perl.DefineSub("PerlSentry::Pool::_end", End);
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
        return RunAsync(sub, perl => _options.Sentry is null ? perl.Call(sub, args) : CallTraced(perl, sub, args, trace), cancel);
    }

    /// <summary>
    /// A call as a transaction of its own (<c>perl.call</c>, named after the sub, continuing
    /// <paramref name="trace"/>): PerlSentry::Pool::call runs the sub and begins and ends the transaction
    /// from inside the Perl call (the C# subs <c>_begin</c>, <c>_end</c>), so its profile's markers
    /// sample the call's stack, as the PSGI server does for a request.
    /// </summary>
    private object? CallTraced(PerlInterpreter perl, string sub, object?[] args, PerlTrace? trace)
    {
        var traced = t_traced = new TracedCall(this, perl, sub, trace);
        try
        {
            return perl.Call("PerlSentry::Pool::call", [sub, .. args]);
        }
        finally
        {
            // Perl did not reach _end (the call was stopped in the SDK's own steps, or it exited): ended here.
            if (traced.Request is { } request)
                _tracer.Finish(perl, request, null, "internal_error");
            t_traced = null;
        }
    }

    /// <summary>_begin(): begins the call's transaction and scope; returns their engine ids, or nothing when it could not.</summary>
    private static void Begin(ref PerlCall call)
    {
        if (t_traced is not { Request: null } traced)
            return;
        var request = traced.Pool._tracer.Start(traced.Perl, () => (new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["name"] = traced.Sub,
            ["op"] = "perl.call",
            ["source"] = "task",
            ["sentry_trace"] = traced.Trace?.SentryTrace,
            ["baggage"] = traced.Trace?.Baggage,
        }, null));
        if (request is null)
            return;
        traced.Request = request;
        call.Return(request.TransactionId);
        call.Return(request.ScopeId);
    }

    /// <summary>_end($ended): finishes what _begin began; $ended false: the call died (internal_error).</summary>
    private static void End(ref PerlCall call)
    {
        var ended = call.NextArgument() is long and not 0;
        if (t_traced is not { Request: { } request } traced)
            return;
        traced.Request = null;
        traced.Pool._tracer.Finish(traced.Perl, request, null, ended ? null : "internal_error");
    }

    private sealed class TracedCall(PerlPool pool, PerlInterpreter perl, string sub, PerlTrace? trace)
    {
        public PerlPool Pool { get; } = pool;

        public PerlInterpreter Perl { get; } = perl;

        public string Sub { get; } = sub;

        public PerlTrace? Trace { get; } = trace;

        /// <summary>The call's transaction, from _begin until it is finished.</summary>
        public HostedRequest? Request { get; set; }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the next free interpreter's thread, with the pool's queue bound,
    /// timeout and replacement; <paramref name="what"/> names it in a timeout's message.
    /// </summary>
    internal Task<T> RunAsync<T>(string what, Func<PerlInterpreter, T> work, CancellationToken cancel = default)
    {
        if (Closed)
            return Task.FromException<T>(new ObjectDisposedException(nameof(PerlPool), "the Perl pool was stopped"));
        if (Interlocked.Increment(ref _pending) > Size + _maxQueued)
        {
            Interlocked.Decrement(ref _pending);
            return Task.FromException<T>(new PerlPoolFullException(_maxQueued));
        }
        var call = new PoolCall<T>(this, what, work);
        if (cancel.CanBeCanceled)
            call.CancelWith(cancel);
        Interlocked.Increment(ref _waiting);
        _calls.Enqueue(call);
        _available.Release();
        if (Closed)
            call.Refuse();   // the pool stopped meanwhile: the call will not be taken
        return call.Task;
    }

    private void StartWorker(PerlInterpreter perl) =>
        perl.InvokeAsync(() => { Work(perl); return 0; });

    /// <summary>An interpreter's thread: takes the calls one after another until the pool stops or the interpreter leaves it.</summary>
    private void Work(PerlInterpreter perl)
    {
        while (true)
        {
            _available.Wait();
            if (!_calls.TryDequeue(out var call))
            {
                if (Closed)
                    return;
                continue;
            }
            if (!call.Take(perl))
                continue;   // cancelled or refused while it waited
            Interlocked.Decrement(ref _waiting);
            Interlocked.Increment(ref _running);
            try
            {
                perl.Interrupt(null);   // one meant for the call before (it ended as it came) is void
                call.Run(perl);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
                Interlocked.Decrement(ref _pending);
            }
            if (_abandoned.TryRemove(perl, out _))
            {
                // Its call would not stop and a fresh interpreter took its place; now that it did stop, it can be ended.
                _ = Task.Run(() => End(perl));
                return;
            }
            if (_retiring.TryRemove(perl, out _))
            {
                Replace(perl, retired: true);   // ended on its thread once this loop has returned
                return;
            }
        }
    }

    /// <summary>
    /// Past <see cref="PerlPoolOptions.CallTimeout"/>: the call's code is told to die; past the grace too,
    /// its interpreter leaves the pool (a fresh one takes its place) and the call ends with a <see cref="TimeoutException"/>.
    /// </summary>
    private void TimedOut(PoolCall call, PerlInterpreter perl)
    {
        var message = $"{call.What} ran longer than {_options.CallTimeout!.Value.TotalSeconds:0.###} s ({_options.CallTimeoutName}) and was stopped";
        if (!call.Stop(perl, message))
            return;   // it ended meanwhile: the interpreter may be running the next call
        _ = Task.Delay(_options.StopGrace).ContinueWith(_ =>
        {
            if (call.IsDone)
                return;
            _abandoned[perl] = true;
            Replace(perl);
            call.Fail(new TimeoutException(message + $"; it did not stop within {_options.StopGrace.TotalSeconds:0.###} s, so its interpreter was replaced"));
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// An interpreter that leaves the pool (code that would not stop, or retired by its call): a fresh
    /// one, loaded the same way, takes its place.
    /// </summary>
    private void Replace(PerlInterpreter old, bool retired = false)
    {
        Interlocked.Increment(ref _replaced);
        lock (_interpreters)
            _interpreters.Remove(old);
        _ = Task.Run(() =>
        {
            if (retired)
                End(old);   // it finished its call: it can be ended, unlike a stuck one
            if (Closed)
                return;
            var fresh = StartOne(_options, _options.Interpreters + Replaced);
            lock (_interpreters)
                _interpreters.Add(fresh);
            StartWorker(fresh);
        });
    }

    /// <summary>A call waiting for, or running on, an interpreter.</summary>
    private abstract class PoolCall(PerlPool pool, string what)
    {
        private const int Queued = 0, Taken = 1, Gone = 2;
        private int _state;
        private CancellationTokenRegistration _cancel;
        private Timer? _timer;
        private string? _stopMessage;
        private bool _ended;

        private string? StopMessage
        {
            get { lock (this) return _stopMessage; }
        }

        public string What => what;

        private PerlPool Pool => pool;

        public abstract bool IsDone { get; }

        public void CancelWith(CancellationToken cancel) =>
            _cancel = cancel.Register(static (o, token) =>
            {
                var call = (PoolCall)o!;
                if (Interlocked.CompareExchange(ref call._state, Gone, Queued) == Queued)
                    call.Dequeued(() => call.Cancelled(token));
            }, this);

        /// <summary>The pool stopped before an interpreter took the call.</summary>
        public void Refuse()
        {
            if (Interlocked.CompareExchange(ref _state, Gone, Queued) == Queued)
                Dequeued(() => Fail(new ObjectDisposedException(nameof(PerlPool), "the Perl pool was stopped before an interpreter took the call")));
        }

        private void Dequeued(Action end)
        {
            Interlocked.Decrement(ref pool._waiting);
            Interlocked.Decrement(ref pool._pending);
            end();
        }

        /// <summary>From the interpreter's thread: whether the call is still there to run.</summary>
        public bool Take(PerlInterpreter perl)
        {
            if (Interlocked.CompareExchange(ref _state, Taken, Queued) != Queued)
                return false;
            _cancel.Dispose();   // running calls are not cancelled
            if (pool._options.CallTimeout is { } limit)
                _timer = new Timer(static o => { var (call, perl) = ((PoolCall, PerlInterpreter))o!; call.Pool.TimedOut(call, perl); }, (this, perl), limit, Timeout.InfiniteTimeSpan);
            return true;
        }

        /// <summary>From the timer: tells the running call's code to die, unless it has ended.</summary>
        public bool Stop(PerlInterpreter perl, string message)
        {
            lock (this)
            {
                if (_ended)
                    return false;
                _stopMessage = message;
                perl.Interrupt(message);
                return true;
            }
        }

        public void Run(PerlInterpreter perl)
        {
            try
            {
                Complete(perl);
            }
            catch (PerlException e) when (StopMessage is { } message && e.Message.StartsWith(message, StringComparison.Ordinal))
            {
                Fail(new TimeoutException(e.Message, e));
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                _timer?.Dispose();
                lock (this)
                    _ended = true;   // from here the timer leaves the interpreter alone
            }
        }

        protected abstract void Complete(PerlInterpreter perl);

        public abstract void Fail(Exception e);

        protected abstract void Cancelled(CancellationToken token);
    }

    private sealed class PoolCall<T>(PerlPool pool, string what, Func<PerlInterpreter, T> work) : PoolCall(pool, what)
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _done.Task;

        public override bool IsDone => _done.Task.IsCompleted;

        protected override void Complete(PerlInterpreter perl) => _done.TrySetResult(work(perl));

        public override void Fail(Exception e) => _done.TrySetException(e);

        protected override void Cancelled(CancellationToken token) => _done.TrySetCanceled(token);
    }

    /// <summary>Stops taking calls, lets running ones finish (up to 30 s), then ends the interpreters.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        foreach (var call in _calls)
            call.Refuse();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Volatile.Read(ref _running) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(10).ConfigureAwait(false);
        List<PerlInterpreter> all;
        lock (_interpreters)
            all = [.. _interpreters];
        _available.Release(all.Count);   // every worker wakes, finds the queue empty and the pool closed, and returns
        foreach (var perl in all)
            End(perl);   // on its thread, after its worker
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
