using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using PerlSentry.PerlBridge.Native;

namespace PerlSentry.PerlBridge;

/// <summary>
/// One Perl interpreter, owned by one thread. Calls from other threads are marshalled to
/// that thread; calls from the owner thread (including from inside a C# sub) run inline.
/// </summary>
public sealed unsafe class PerlInterpreter : IDisposable
{
    private readonly BlockingCollection<Action>? _work;
    // Handles let go of on other threads (finalizers), released on the owner thread. Arrays and a lock,
    // not ConcurrentQueue<nint>: no precompiled code exists for that instantiation, and JIT-compiling
    // it was part of every perl-sentry start.
    private readonly object _releaseGate = new();
    private nint[] _releases = new nint[16];
    private int _releaseCount;
    private readonly Dictionary<string, byte[]> _names = new(StringComparer.Ordinal);
    private readonly Thread? _thread;
    private nint _ip;
    private int _ownerThreadId;
    private pb_buf* _args;
    private pb_result* _result;
    private bool _parsed;
    private bool _destructed;
    private readonly Lock _drainGate = new();   // DrainSamples (any thread) against interp_free
    private int _destructStatus;

    private PerlInterpreter(BlockingCollection<Action>? work, Thread? thread)
    {
        _work = work;
        _thread = thread;
    }

    /// <summary>
    /// The name of the thread the interpreter runs on, as profiles show it: <c>main</c> for one made by
    /// <see cref="CreateOnCurrentThread"/>, the name given to <see cref="Start"/> otherwise.
    /// </summary>
    public string ThreadName => _thread?.Name ?? "main";

    /// <summary>The exit status perl_destruct returned (after <see cref="Dispose"/> or <see cref="RunProgram"/>).</summary>
    public int DestructStatus => _destructStatus;

    public bool IsDisposed => _ip == 0;

    /// <summary>The perl version the bridge was built for, e.g. "5.36.0".</summary>
    public static string PerlVersion => PerlRuntime.PerlVersion;

    /// <summary>perl's own library directories (privlib, archlib, vendor and site dirs), from its build configuration.</summary>
    public static IReadOnlyList<string> LibraryDirs =>
        Marshal.PtrToStringUTF8((nint)PerlRuntime.Api->lib_dirs)!.Split(':', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The monotonic clock samples are stamped with, and the wall clock at the same moment.</summary>
    public static (long MonotonicNs, long UnixNs) Clock()
    {
        long mono, real;
        PerlRuntime.Api->clock(&mono, &real);
        return (mono, real);
    }

    /// <summary>
    /// Makes samples taken while an XS sub runs land on the Perl sub that called it (by wrapping
    /// perl's entersub op). Affects code compiled afterwards, so call it before creating the
    /// interpreters to profile. On by default (the runtime's start does it unless
    /// <c>PERLSENTRY_XS_SAMPLES=0</c>); its cost is one more indirect call per sub call.
    /// </summary>
    public static void SampleXsCalls() => PerlRuntime.Api->sample_wrap_xs();

    /// <summary>The live interpreters by their native pointer (for <see cref="OnFork"/>): a few, so a locked array (see <see cref="_releases"/>).</summary>
    private static LiveEntry[] Live = new LiveEntry[0];   // not []: Array.Empty<LiveEntry> would be JIT-compiled at start

    private static readonly object LiveGate = new();

    private readonly struct LiveEntry(nint ip, WeakReference<PerlInterpreter> perl)
    {
        public readonly nint Ip = ip;
        public readonly WeakReference<PerlInterpreter> Perl = perl;
    }

    private static void AddLive(nint ip, PerlInterpreter perl)
    {
        lock (LiveGate)
        {
            var grown = new LiveEntry[Live.Length + 1];
            Live.CopyTo(grown, 0);
            grown[^1] = new LiveEntry(ip, new WeakReference<PerlInterpreter>(perl));
            Live = grown;
        }
    }

    private static void RemoveLive(nint ip)
    {
        lock (LiveGate)
        {
            var n = 0;
            foreach (var e in Live)
                if (e.Ip != ip)
                    n++;
            var kept = new LiveEntry[n];
            n = 0;
            foreach (var e in Live)
                if (e.Ip != ip)
                    kept[n++] = e;
            Live = kept;
        }
    }

    private static PerlInterpreter? FindLive(nint ip)
    {
        foreach (var e in Volatile.Read(ref Live))
            if (e.Ip == ip)
                return e.Perl.TryGetTarget(out var perl) ? perl : null;
        return null;
    }

    /// <summary>
    /// What a forked child of this process continues from: the bytes the engine makes of an
    /// interpreter's state, taken on the forking thread just before the fork. The child, which has no
    /// CLR, hands them to the agent (see pb_client.h). Null: the child starts from nothing.
    /// </summary>
    public static Func<PerlInterpreter, byte[]?>? ForkSnapshot { get; set; }

    /// <summary>
    /// Tells forked children how to reach the agent: <paramref name="agentCommand"/> is the program that
    /// starts it (<c>perl-sentry</c>), and <see cref="ForkSnapshot"/> is asked before every fork.
    /// </summary>
    public static void ConfigureForkedChildren(string agentCommand)
    {
        using var cmd = new NativeStrings([agentCommand]);
        PerlRuntime.Api->client_configure(cmd.Pointers[0], &OnFork);
    }

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static int OnFork(nint ip, pb_buf* into)
    {
        try
        {
            if (FindLive(ip) is not { } perl || ForkSnapshot?.Invoke(perl) is not { } bytes)
                return -1;
            NativeCalls.BufReserve(into, (nuint)bytes.Length);
            bytes.AsSpan().CopyTo(new Span<byte>(into->data + into->len, bytes.Length));
            into->len += (nuint)bytes.Length;
            return 0;
        }
        catch
        {
            return -1;   // the child starts from nothing rather than the fork failing
        }
    }

    private static Action? _beforeExec;

    /// <summary>
    /// Runs <paramref name="hook"/> on the interpreter's thread just before the program's <c>exec</c>
    /// replaces the process (for code compiled after this call; null stops it). Exceptions it throws
    /// are swallowed: the exec goes on.
    /// </summary>
    public static void BeforeExec(Action? hook)
    {
        _beforeExec = hook;
        PerlRuntime.Api->sample_on_exec(hook is null ? null : &OnExec);
    }

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static void OnExec()
    {
        try
        {
            _beforeExec?.Invoke();
        }
        catch
        {
            // the program's exec must happen whatever the hook did
        }
    }

    /// <summary>The number a forked child's agent client knows the code reference <paramref name="code"/> by (the client holds it).</summary>
    public long ClientToken(PerlRef code) => (long)PerlRuntime.Api->client_token(_ip, code.Handle);

    /// <summary>True in a child process made by Perl's fork: the CLR is not usable there.</summary>
    public static bool IsForkedChild => PerlRuntime.IsForkedChild;

    /// <summary>
    /// Starts an interpreter on a dedicated thread, ready for calls: it has parsed
    /// <c>-e 0</c> with <paramref name="includeDirs"/> on <c>@INC</c> and run INIT blocks. The thread is
    /// named <paramref name="threadName"/> (profiles show it).
    /// </summary>
    public static PerlInterpreter Start(IEnumerable<string>? includeDirs = null, int stackSizeBytes = 16 << 20, string threadName = "perl")
    {
        var work = new BlockingCollection<Action>();
        var started = new TaskCompletionSource<PerlInterpreter>(TaskCreationOptions.RunContinuationsAsynchronously);
        var argv = new List<string> { "perl" };
        foreach (var dir in includeDirs ?? [])
            argv.Add("-I" + dir);
        argv.AddRange(["-e", "0"]);
        PerlInterpreter? interp = null;
        var thread = new Thread(() =>
        {
            try
            {
                interp!.CreateHere();
                var rc = interp.Parse(argv);
                if (rc == 0)
                    rc = interp.Run();
                if (rc != 0)
                    throw new PerlBridgeException($"perl failed to start (status {rc}); see standard error");
                started.SetResult(interp);
            }
            catch (Exception e)
            {
                started.TrySetException(e);
                interp!.DestroyHere();
                return;
            }
            // TryTake, not foreach: the enumerator's Current would keep the last call's
            // closure (and the values it returned) reachable until the next call.
            while (work.TryTake(out var item, Timeout.Infinite))
            {
                item();
                item = null;
            }
            interp.DestroyHere();
        }, stackSizeBytes)
        {
            IsBackground = true,
            Name = threadName,
        };
        interp = new PerlInterpreter(work, thread);
        _ = PerlRuntime.Api;   // load errors surface here, on the caller's thread
        thread.Start();
        return started.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Creates an interpreter owned by the calling thread, for running a program with
    /// <see cref="RunProgram"/>. The CLI runs scripts on the process's main thread so that
    /// process-directed signals (<c>kill USR1 =&gt; $$</c>, <c>alarm</c>) land where perl expects them.
    /// </summary>
    public static PerlInterpreter CreateOnCurrentThread()
    {
        var interp = new PerlInterpreter(null, null);
        interp.CreateHere();
        return interp;
    }

    private void CreateHere()
    {
        var api = PerlRuntime.Api;
        var err = stackalloc byte[512];
        using var perlPath = new NativeStrings([PerlRuntime.PerlPath]);
        var ip = api->interp_new(perlPath.Pointers[0], err, 512);
        if (ip == 0)
            throw new PerlBridgeException("cannot create a perl interpreter: " + Marshal.PtrToStringUTF8((nint)err));
        _ip = ip;
        AddLive(ip, this);
        _ownerThreadId = Environment.CurrentManagedThreadId;
        OsThreadId = PerlNative.gettid();
        _args = (pb_buf*)NativeMemory.AllocZeroed((nuint)sizeof(pb_buf));
        _result = (pb_result*)NativeMemory.AllocZeroed((nuint)sizeof(pb_result));
    }

    /// <summary>
    /// Runs a whole program as perlmain.c does: parse argv (<c>perl [switches] script args</c>),
    /// run it if that worked, destruct (END blocks) and return perl's exit status. Owner thread only;
    /// the interpreter is disposed afterwards.
    /// </summary>
    public int RunProgram(IReadOnlyList<string> argv)
    {
        CheckOwner();
        if (Parse(argv) == 0)
            Run();
        DestroyHere();
        return _destructStatus;
    }

    private int Parse(IReadOnlyList<string> argv)
    {
        // The shim copies argv and keeps it alive for the interpreter's lifetime.
        using var native = new NativeStrings(argv);
        var rc = PerlRuntime.Api->interp_parse(_ip, argv.Count, native.Pointers);
        _parsed = rc == 0;
        return rc;
    }

    private int Run() => PerlRuntime.Api->interp_run(_ip);

    private void DestroyHere()
    {
        if (_ip == 0)
            return;
        DrainReleases();
        var ip = _ip;
        // END blocks and DESTROY methods may still call C# subs (the SDK flushes from its END block).
        _destructStatus = PerlRuntime.Api->interp_destruct(ip);
        _destructed = true;
        SubTable.Unregister(this);
        try
        {
            Destructed?.Invoke(this);   // e.g. a profiler draining the END blocks' samples
        }
        finally
        {
            lock (_drainGate)
            {
                RemoveLive(ip);
                NativeCalls.InterpFree(ip);
                _ip = 0;
            }
        }
        PerlRuntime.Api->buf_free(_args);
        PerlRuntime.Api->buf_free(&_result->@out);
        NativeMemory.Free(_args);
        NativeMemory.Free(_result);
        _args = null;
        _result = null;
    }

    /// <summary>Runs <paramref name="action"/> on the owner thread and waits for it.</summary>
    public T Invoke<T>(Func<T> action) =>
        Environment.CurrentManagedThreadId == _ownerThreadId ? action() : InvokeAsync(action).GetAwaiter().GetResult();

    /// <summary>
    /// Queues <paramref name="action"/> on the owner thread of an interpreter made by <see cref="Start"/>;
    /// the task ends with its result or its exception.
    /// </summary>
    public Task<T> InvokeAsync<T>(Func<T> action)
    {
        if (_work is null)
            throw new PerlBridgeException("this interpreter belongs to another thread and takes no marshalled calls");
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _work.Add(() =>
            {
                try { done.SetResult(action()); }
                catch (Exception e) { done.SetException(e); }
            });
        }
        catch (InvalidOperationException)
        {
            throw new ObjectDisposedException(nameof(PerlInterpreter));
        }
        return done.Task;
    }

    /// <summary>
    /// From any thread: the Perl code this interpreter is running dies with <paramref name="message"/>
    /// (perl adds where it stopped) at its next safe point, a statement or a loop's next turn. Code
    /// blocked in a system call (<c>sleep</c>, a read) notices when the call returns; code that catches
    /// the <c>die</c> goes on. Null takes back an interrupt not yet acted on.
    /// </summary>
    public void Interrupt(string? message)
    {
        if (_ip == 0 || _destructed)
            return;
        fixed (byte* p = message is null ? null : System.Text.Encoding.UTF8.GetBytes(message + "\0"))
            PerlRuntime.Api->interrupt(_ip, p);   // a null array: a null pointer
    }

    /// <summary>Evaluates Perl code in scalar context and returns its value.</summary>
    public object? Eval(string code) => Single(Invoke(() => EvalHere(code, PerlContext.Scalar)));

    /// <summary>Evaluates Perl code in list context.</summary>
    public object?[] EvalList(string code) => Invoke(() => EvalHere(code, PerlContext.List));

    /// <summary>Calls a sub by name in scalar context.</summary>
    public object? Call(string name, params object?[] args) => Single(CallNamed(name, PerlContext.Scalar, args));

    /// <summary>Calls a sub by name in list context.</summary>
    public object?[] CallList(string name, params object?[] args) => CallNamed(name, PerlContext.List, args);

    public object?[] CallNamed(string name, PerlContext context, params object?[] args) => Invoke(() =>
    {
        Prepare(args);
        var n = Name(name);
        fixed (byte* p = n)
            return Finish(PerlRuntime.Api->call_named(_ip, p, (nuint)n.Length, (int)context, _args->data, _args->len, args.Length, _result));
    });

    internal object?[] CallRef(PerlRef code, PerlContext context, object?[] args) => Invoke(() =>
    {
        Prepare(args);
        return Finish(PerlRuntime.Api->call_ref(_ip, code.Handle, (int)context, _args->data, _args->len, args.Length, _result));
    });

    /// <summary>
    /// Makes this interpreter the one whose <c>%SIG</c> assignments install process signal handlers.
    /// perl allows one such interpreter per process (<c>PL_curinterp</c>): the first one created, until it
    /// is destroyed. Process signals are then routed to the thread of the interpreter that handles them.
    /// </summary>
    public void ClaimSignals() => Invoke(() =>
    {
        CheckLive();
        PerlRuntime.Api->signals_claim(_ip);
        return 0;
    });

    /// <summary>Makes <paramref name="handler"/> callable from Perl as <paramref name="name"/>.</summary>
    public void DefineSub(string name, PerlSubHandler handler) => Invoke(() =>
    {
        CheckLive();
        var id = SubTable.Register(this, handler);
        var n = Name(name);
        fixed (byte* p = n)
            Finish(PerlRuntime.Api->define_sub(_ip, p, (nuint)n.Length, id, _result));
        return 0;
    });

    /// <summary>Convenience form: all arguments in, one value (or a list for list context) out.</summary>
    public void DefineSub(string name, Func<object?[], object?> body) => DefineSub(name, (ref PerlCall call) =>
    {
        var result = body(call.RemainingArguments());
        if (call.Context == PerlContext.List && result is object?[] list)
            foreach (var v in list) call.Return(v);
        else if (call.Context != PerlContext.Void)
            call.Return(result);
    });

    private object?[] EvalHere(string code, PerlContext context)
    {
        CheckLive();
        DrainReleases();
        var bytes = Encoding.UTF8.GetBytes(code);
        fixed (byte* p = bytes)
            return Finish(PerlRuntime.Api->eval(_ip, p, (nuint)bytes.Length, (int)context, _result));
    }

    private void Prepare(object?[] args)
    {
        CheckLive();
        DrainReleases();
        _args->len = 0;
        var w = new PbWriter(_args);
        foreach (var a in args)
        {
            if (a is PerlRef r && r.Interpreter != this)
                throw new ArgumentException("a PerlRef belongs to the interpreter that made it");
            w.Value(a);
        }
    }

    private object?[] Finish(int status)
    {
        var reader = new PbReader(new ReadOnlySpan<byte>(_result->@out.data, (int)_result->@out.len), this);
        switch (status)
        {
            case PerlNative.PB_OK:
            {
                var n = _result->count;
                if (n == 0)
                    return [];
                var values = new object?[n];
                for (var i = 0; i < n; i++)
                    values[i] = reader.Value();
                return values;
            }
            case PerlNative.PB_DIED:
            {
                var message = reader.String() ?? "Died";
                var value = reader.Value() as PerlRef;
                throw new PerlException(message, value);
            }
            case PerlNative.PB_EXITED:
                throw new PerlExitException(_result->exit_status);
            default:
                throw new PerlBridgeException(reader.String() ?? "bridge error");
        }
    }

    private PerlRef? _deref;

    /// <summary><c>${$ref}</c>, through a sub compiled once per interpreter.</summary>
    internal object? DerefScalar(PerlRef r) => Invoke(() =>
    {
        _deref ??= EvalHere("sub { ${$_[0]} }", PerlContext.Scalar) is [PerlRef code] ? code : throw new PerlBridgeException("cannot compile the deref sub");
        return Single(CallRef(_deref, PerlContext.Scalar, [r]));
    });

    private static object? Single(object?[] values) => values.Length == 0 ? null : values[^1];

    private byte[] Name(string name)
    {
        if (!_names.TryGetValue(name, out var bytes))
            _names[name] = bytes = Encoding.UTF8.GetBytes(name);
        return bytes;
    }

    internal void QueueRelease(nint handle)
    {
        lock (_releaseGate)
        {
            if (_releaseCount == _releases.Length)
            {
                var grown = new nint[_releases.Length * 2];
                _releases.CopyTo(grown, 0);
                _releases = grown;
            }
            _releases[_releaseCount] = handle;
            Volatile.Write(ref _releaseCount, _releaseCount + 1);
        }
    }

    internal void Release(nint handle)
    {
        if (_ip == 0)
            return;   // the interpreter and everything in it is gone
        if (Environment.CurrentManagedThreadId == _ownerThreadId)
            PerlRuntime.Api->sv_release(_ip, handle);
        else
            QueueRelease(handle);
    }

    private void DrainReleases()
    {
        if (Volatile.Read(ref _releaseCount) == 0)
            return;
        nint[] handles;
        int n;
        lock (_releaseGate)
        {
            (handles, n) = (_releases, _releaseCount);
            _releases = new nint[Math.Max(16, n)];
            _releaseCount = 0;
        }
        for (var i = 0; i < n; i++)
            PerlRuntime.Api->sv_release(_ip, handles[i]);
    }

    private void CheckLive()
    {
        if (_ip == 0 || _destructed)
            throw new ObjectDisposedException(nameof(PerlInterpreter));
    }

    /// <summary>
    /// Raised on the owner thread after perl_destruct (END blocks and global destruction have run)
    /// and before the interpreter's memory is freed: the last chance to <see cref="DrainSamples"/>.
    /// </summary>
    public event Action<PerlInterpreter>? Destructed;

    /// <summary>The OS thread id of the owner thread (what profiles call the thread id).</summary>
    public int OsThreadId { get; private set; }

    /// <summary>
    /// Starts sampling this interpreter's call stack every <paramref name="interval"/> (no signals:
    /// see pb_sample.h). Samples accumulate natively until <see cref="DrainSamples"/>.
    /// </summary>
    public void StartSampling(TimeSpan interval, int maxDepth) => Invoke(() =>
    {
        CheckLive();
        if (PerlRuntime.Api->sample_start(_ip, (long)interval.TotalNanoseconds, maxDepth) != 0)
            throw new PerlBridgeException("cannot start the sampler thread");
        return 0;
    });

    /// <summary>Stops sampling; samples taken so far stay until drained. Any thread.</summary>
    public void StopSampling()
    {
        lock (_drainGate)   // against interp_free
        {
            if (_ip != 0)
                PerlRuntime.Api->sample_stop(_ip);
        }
    }

    /// <summary>Takes one sample at once (a profile's first and last), if sampling is on.</summary>
    public bool SampleNow() => Invoke(() => _ip != 0 && !_destructed && PerlRuntime.Api->sample_now(_ip) != 0);

    /// <summary>
    /// Compiles the sample-draining path ahead (any thread, no interpreter needed): the methods that
    /// read the shim's records are generic over this assembly's types, which ReadyToRun cannot hold,
    /// so otherwise the JIT compiles them inside a program's first profiled transaction (about 1 ms
    /// there). Decodes two made-up records in the shim's layout and returns them.
    /// </summary>
    public static List<PerlSample> PrepareSampling()
    {
        System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(
            typeof(PerlInterpreter).GetMethod(nameof(DrainLocked), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.MethodHandle);
        var records = new List<byte>();
        void U16(int v) => records.AddRange(BitConverter.GetBytes((ushort)v));
        void Str(string v) { var b = System.Text.Encoding.UTF8.GetBytes(v); U16(b.Length); records.AddRange(b); }
        for (var i = 0; i < 2; i++)
        {
            records.AddRange(BitConverter.GetBytes(1_000_000L * (i + 1)));
            records.AddRange(BitConverter.GetBytes(1));
            U16(2);
            U16(i);   // flags: the second is truncated
            Str("main::warm_up");
            Str("warm-up.pl");
            records.AddRange(BitConverter.GetBytes(2));
            Str("main");
            Str("warm-up.pl");
            records.AddRange(BitConverter.GetBytes(1));
        }
        var samples = new List<PerlSample>();
        PerlSample.Parse(records.ToArray(), samples);
        return samples;
    }

    /// <summary>Moves the samples taken so far into <paramref name="into"/>. Any thread.</summary>
    public int DrainSamples(List<PerlSample> into)
    {
        lock (_drainGate)
            return DrainLocked(into);
    }

    private int DrainLocked(List<PerlSample> into)
    {
        var ip = _ip;
        if (ip == 0)
            return 0;
        var buf = default(pb_buf);
        try
        {
            var n = NativeCalls.SampleDrain(ip, &buf);
            if (n > 0)
                PerlSample.Parse(new ReadOnlySpan<byte>(buf.data, (int)buf.len), into);
            return n;
        }
        finally
        {
            NativeCalls.BufFree(&buf);
        }
    }

    private void CheckOwner()
    {
        CheckLive();
        if (Environment.CurrentManagedThreadId != _ownerThreadId)
            throw new PerlBridgeException("only the owner thread may run a program in this interpreter");
        if (_parsed)
            throw new PerlBridgeException("this interpreter has parsed a program already");
    }

    /// <summary>Destructs the interpreter on its owner thread (END blocks run) and ends that thread.</summary>
    public void Dispose()
    {
        if (_work is null)
        {
            if (_ip != 0 && Environment.CurrentManagedThreadId == _ownerThreadId)
                DestroyHere();
            return;
        }
        if (!_work.IsAddingCompleted)
            _work.CompleteAdding();
        if (_thread is not null && Environment.CurrentManagedThreadId != _thread.ManagedThreadId)
            _thread.Join();
    }
}
