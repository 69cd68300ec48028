namespace PerlSentry.Engine.Sentry;

/// <summary>
/// Writes what the program captured (events, finished transactions and their profiles) to envelope
/// bytes and into the transport on a thread of its own, so the program's thread only takes what it
/// must take at the call (the values, a copy of the scope, the sampler's marks) and goes on. In the
/// host the interpreters are in (<c>perl-sentry run</c>, .NET services); the agent writes on the
/// connection's thread, which is not the program's.
/// <para>
/// Work runs in the order it was posted. The queue is bounded: past <see cref="MaxQueued"/> the
/// posting thread does its own work (back-pressure, nothing dropped). <see cref="Drain"/> waits for
/// what was posted before it; <c>flush</c>, <c>close</c>, the exit and a TERM, INT or HUP the program
/// does not handle itself drain it first, so what a capture call accepted is written as when it was
/// written on the program's thread.
/// </para>
/// </summary>
public sealed class CaptureWriter : IDisposable
{
    public const int MaxQueued = 10_000;

    private static readonly Lazy<CaptureWriter> SharedWriter = new(() => new CaptureWriter("perl-sentry writer"));

    /// <summary>The process's writer (one thread, shared by its interpreters' sessions).</summary>
    public static CaptureWriter Shared => SharedWriter.Value;

    /// <summary>Whether <see cref="Shared"/> was made (so draining it at exit makes no thread).</summary>
    public static bool SharedStarted => SharedWriter.IsValueCreated;

    /// <summary>
    /// While work keeps coming, the writer looks for it this often instead of being woken for each
    /// piece: a server traced at 100% posts a transaction per request, and each wake-up of the writer
    /// (and of the transport after it) took a core from a Perl thread, which then ran on a cold cache.
    /// A post after a quiet spell wakes it at once; <see cref="Drain"/> (flush, close, exit) too.
    /// </summary>
    public static readonly TimeSpan BatchEvery = TimeSpan.FromMilliseconds(20);

    private readonly Queue<Action> _queue = new();
    private bool _idle;   // the writer waits to be woken (nothing came for a whole BatchEvery)
    private readonly object _gate = new();
    private readonly Thread _thread;
    private long _posted, _done;
    private bool _stopping;

    /// <summary>Work that failed on the writer (a bug: said through <see cref="Failed"/>, never thrown at the program).</summary>
    public Action<Exception>? Failed { get; set; }

    public CaptureWriter(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="work"/> on the writer, after what was posted before it.</summary>
    public void Post(Action work)
    {
        lock (_gate)
        {
            if (!_stopping && _queue.Count < MaxQueued)
            {
                _queue.Enqueue(work);
                _posted++;
                if (_idle)
                {
                    _idle = false;
                    Monitor.PulseAll(_gate);   // the writer, not only a Drain that waits on the same gate
                }
                return;
            }
        }
        Execute(work);   // stopped, or the writer is that far behind: the caller writes it itself
    }

    /// <summary>Waits until what was posted before this call is written; false when <paramref name="timeout"/> passed first.</summary>
    public bool Drain(TimeSpan timeout)
    {
        if (Thread.CurrentThread == _thread)
            return true;
        var deadline = DateTime.UtcNow + timeout;
        lock (_gate)
        {
            var target = _posted;
            if (_done < target)
                Monitor.PulseAll(_gate);   // a writer waiting for the next batch goes now
            while (_done < target)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    return false;
                Monitor.Wait(_gate, left);
            }
            return true;
        }
    }

    /// <summary>How many posted pieces of work are not written yet.</summary>
    public long Pending
    {
        get
        {
            lock (_gate)
                return _posted - _done;
        }
    }

    private void Run()
    {
        while (true)
        {
            Action work;
            lock (_gate)
            {
                var quiet = false;
                while (_queue.Count == 0)
                {
                    if (_stopping)
                        return;
                    if (quiet)
                    {
                        _idle = true;
                        Monitor.Wait(_gate);
                        _idle = false;
                    }
                    else
                        quiet = !Monitor.Wait(_gate, BatchEvery) && _queue.Count == 0;
                }
                work = _queue.Dequeue();
            }
            Execute(work);
            lock (_gate)
            {
                _done++;
                Monitor.PulseAll(_gate);
            }
        }
    }

    private void Execute(Action work)
    {
        try
        {
            work();
        }
        catch (Exception e)
        {
            Failed?.Invoke(e);
        }
    }

    /// <summary>Writes what is queued (up to 5 s), then stops the thread; later work runs on the poster's thread.</summary>
    public void Dispose()
    {
        Drain(TimeSpan.FromSeconds(5));
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
    }
}
