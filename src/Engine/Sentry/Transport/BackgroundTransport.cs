namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// The SDK's transport (spec §5). <see cref="SendEnvelopeAsync"/> runs on the caller's thread and
/// does only what must happen before the capture call returns: rate limits, serialising once, and
/// the queue's write (the disk journal: one append). Sender threads of its own send with blocking
/// I/O: one to start with (one only to a folder, so its files keep the order of the captures); up to 4
/// while envelopes wait and no send ends (a slow server); up to <see cref="Concurrency"/> while they
/// fall behind a far one (<see cref="Behind"/>). Each request in flight is a connection of its own, so
/// a server 50 ms away takes up to 16 / 0.05 s = 320 envelopes a second. A sender that finds nothing
/// to do for a minute ends (one always stays). A dedicated thread, not tasks on
/// the pool: at a server's rate envelopes come one at a time, and each await in
/// the old loop of tasks was a wake-up of another thread (bench/RESULTS.md, the transport rows). A
/// transient failure
/// (no answer, 5xx, a redirect, which is never followed) pauses all sending with a growing backoff
/// and keeps the envelope in the journal (in memory only, it is dropped as <c>network_error</c>).
/// Client reports for what was dropped ride along with the next envelope (at most every 30 s) or go
/// alone at flush; at close, what is still pending goes into the journal, so a restart sends it once.
/// When the journal cannot be written (a full or read-only disk) the transport keeps envelopes in
/// memory and says so once.
/// </summary>
public sealed class BackgroundTransport : ITransport
{
    /// <summary>
    /// The most sender threads, so requests in flight at once. Each waits for its answer: to a stand-in
    /// 50 ms away, the old limit of 4 (reached only when no send ended for 20 ms) took ~43 envelopes a
    /// second; 16 can take up to 320 (~140 measured, bench/RESULTS.md).
    /// </summary>
    public const int Concurrency = 16;

    /// <summary>How long an extra sender waits with nothing to do before it ends (shorter in tests).</summary>
    internal int SenderIdleMs { get; init; } = 60_000;

    /// <summary>
    /// The machine's idle CPU share since the last call (null: not known), which <see cref="Behind"/> asks
    /// before it adds a fifth sender or more. <c>/proc/stat</c>; tests give a machine of their own.
    /// </summary>
    internal Func<double?> CpuIdleSinceLastLook { get; init; } = new CpuIdle().SinceLastLook;

    /// <summary>The sender threads now.</summary>
    internal int SenderCount
    {
        get
        {
            lock (_senders)
                return _senders.Count;
        }
    }

    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);

    /// <summary>The transports of this process, for <see cref="HoldAll"/>.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<BackgroundTransport, object> Live = [];

    private readonly IEnvelopeSink _sink;
    private readonly IEnvelopeQueue _queue;
    private readonly IClock _clock;
    private readonly Action<string>? _log;
    private readonly Action<string>? _warn;
    private readonly bool _sendReports;
    private readonly int _fallbackCapacity;
    private readonly int _maxSenders;
    private readonly List<Thread> _senders = [];
    private readonly object _signal = new();
    private bool _signaled;
    private int _waiting;
    private volatile bool _stopping;
    private int _busy;                 // senders between their look at the hold and the end of a send's record
    private long _heldUntilMs;         // no new sends before this (a signal is ending the process)

    private readonly Lock _gate = new();
    private readonly HashSet<string> _warned = [];
    private TaskCompletionSource _idle = NewIdle(completed: true);
    private MemoryEnvelopeQueue? _fallback;
    private int _inFlight;
    private long _progressMs = Environment.TickCount64;   // when a send last ended, or sending began after a quiet spell
    private long _sendMsX16;           // how long a send takes: a moving average (1/8 each send), in 1/16 ms
    private long _behindSinceMs;       // since when envelopes have waited without a break (0: the queue was just found empty)
    private long _lastReportNs;
    private long _pausedUntilNs;
    private TimeSpan _backoff = MinBackoff;
    private int _reportInFlight;
    private volatile bool _flushReports;

    public BackgroundTransport(IEnvelopeSink sink, IEnvelopeQueue queue, IClock clock, RateLimits? limits = null,
        ClientReports? reports = null, bool sendClientReports = true, Action<string>? log = null, Action<string>? warn = null,
        int fallbackCapacity = 10_000, int concurrency = Concurrency)
    {
        _sink = sink;
        _maxSenders = Math.Max(1, concurrency);
        _queue = queue;
        _clock = clock;
        Limits = limits ?? new RateLimits();
        Reports = reports ?? new ClientReports();
        _sendReports = sendClientReports;
        _log = log;
        _warn = warn;
        _fallbackCapacity = fallbackCapacity;
        _lastReportNs = clock.UnixNs;
        if (queue.Count > 0)
        {
            _idle = NewIdle(completed: false);   // a flush waits for what earlier runs left
            _log?.Invoke($"{queue.Count} envelope(s) from an earlier run are in the cache; sending them");
        }
        Live.AddOrUpdate(this, this);
        AddSender(1);
    }

    /// <summary>
    /// For a TERM, INT or HUP that is about to end the process: every transport of the process stops
    /// starting sends (for <paramref name="timeout"/> and 2 s more, should the process live on), and this
    /// waits up to <paramref name="timeout"/> for the sends in progress to end and be recorded in the
    /// journal. Otherwise a send cut between its delivery and its record (a file written to
    /// <c>envelope_dir</c>, a request answered) is delivered again by the next run.
    /// </summary>
    public static void HoldAll(TimeSpan timeout)
    {
        var until = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var all = Live.Select(kv => kv.Key).ToList();
        foreach (var t in all)
            Interlocked.Exchange(ref t._heldUntilMs, until + 2000);
        foreach (var t in all)
            while (Volatile.Read(ref t._busy) > 0 && Environment.TickCount64 < until)
                Thread.Sleep(1);
    }

    /// <summary>
    /// Parked envelopes come due, backoffs end and client reports fall due with no event to say so: an
    /// idle sender looks again this often.
    /// </summary>
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(250);

    public RateLimits Limits { get; }

    public ClientReports Reports { get; }

    public TransportStats Stats { get; } = new();

    /// <summary>Envelopes waiting (in the journal, or in memory), not counting those being sent.</summary>
    public int Pending => _queue.Count + (_fallback is { } f && !ReferenceEquals(f, _queue) ? f.Count : 0);

    private static TaskCompletionSource NewIdle(bool completed)
    {
        var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed) t.SetResult();
        return t;
    }

    public Task SendEnvelopeAsync(Envelope envelope, CancellationToken cancel = default)
    {
        Send(SerializedEnvelope.From(envelope));
        return Task.CompletedTask;
    }

    public void Send(SerializedEnvelope envelope)
    {
        if (WithinLimits(envelope, _clock.UnixNs) is { } kept)
            Enqueue(kept);
    }

    /// <summary>The items no rate limit holds back now (null when none); the others are dropped and counted.</summary>
    private SerializedEnvelope? WithinLimits(SerializedEnvelope envelope, long now)
    {
        var txLimited = envelope.ItemTypes.Contains("transaction") && Limits.IsLimited(DataCategory.Transaction, now);
        var limited = envelope.Items.Where(i => Limits.IsItemLimited(i.Type, txLimited, now)).Select(i => i.Type).ToList();
        if (limited.Count == 0)
            return envelope;
        RecordDropped(limited, DiscardReason.RateLimitBackoff);
        return envelope.Where(i => !Limits.IsItemLimited(i.Type, txLimited, now));
    }

    private void Enqueue(SerializedEnvelope envelope)
    {
        IReadOnlyList<IReadOnlyList<string>> overflow;
        var persistent = _queue.IsPersistent && _fallback is null;
        try
        {
            overflow = persistent ? _queue.Add(envelope) : Fallback().Add(envelope);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            WarnOnce("cache", $"Sentry::SDK: cannot write the envelope cache ({e.Message}); envelopes are kept in memory only");
            persistent = false;
            overflow = Fallback().Add(envelope);
        }
        Stats.OnQueued();
        lock (_gate)
        {
            if (_idle.Task.IsCompleted)
                _idle = NewIdle(completed: false);
        }
        foreach (var types in overflow)
            RecordDropped(types, persistent ? DiscardReason.CacheOverflow : DiscardReason.QueueOverflow);
        Wake();
    }

    private MemoryEnvelopeQueue Fallback()
    {
        lock (_gate)
            return _fallback ??= _queue as MemoryEnvelopeQueue ?? new MemoryEnvelopeQueue(_fallbackCapacity);
    }

    private void RecordDropped(IEnumerable<string> itemTypes, string reason)
    {
        foreach (var type in itemTypes.Where(t => t != "client_report"))
        {
            Reports.Record(reason, DataCategory.OfItem(type));
            _log?.Invoke($"dropped a {type} item: {reason}");
        }
    }

    private void WarnOnce(string key, string message)
    {
        lock (_warned)
        {
            if (!_warned.Add(key))
                return;
        }
        if (_warn is not null) _warn(message);
        else _log?.Invoke(message);
    }

    private QueuedEnvelope? Claim(long now) => _queue.TryClaim(now) ?? _fallback?.TryClaim(now);

    /// <summary>One more sender, unless there are <paramref name="most"/> (or <see cref="_maxSenders"/>) already.</summary>
    private void AddSender(int most)
    {
        lock (_senders)
        {
            if (_stopping || _senders.Count >= Math.Min(most, _maxSenders))
                return;
            var thread = new Thread(SenderLoop) { IsBackground = true, Name = "sentry-send" };
            _senders.Add(thread);
            thread.Start();
        }
    }

    private void SenderLoop()
    {
        var busyAt = Environment.TickCount64;
        while (!_stopping)
        {
            try
            {
                if (SendNext())
                    busyAt = Environment.TickCount64;
                else if (Environment.TickCount64 - busyAt >= SenderIdleMs && Retire())
                {
                    if (Due(_clock.UnixNs) > 0)
                        Wake();   // a wake this one took on its way out goes to another
                    return;
                }
            }
            catch (Exception e) when (!_stopping)
            {
                // A bug or a broken cache, never the program's problem: said, and the loop goes on after a pause.
                _log?.Invoke($"transport error: {e.Message}");
                WaitForWork();
            }
            catch (Exception)
            {
                return;   // the queue or the sink was closed under it at shutdown
            }
        }
    }

    /// <summary>An extra sender with nothing to do leaves; the last one stays. True when this one left.</summary>
    private bool Retire()
    {
        lock (_senders)
        {
            if (_senders.Count <= 1 || _stopping)
                return false;
            return _senders.Remove(Thread.CurrentThread);
        }
    }

    /// <summary>Sends the next due envelope (true), or waits for one (up to the tick).</summary>
    private bool SendNext()
    {
        var now = _clock.UnixNs;
        // Counted before the hold is looked at: HoldAll either sees this sender busy or this sender sees the hold.
        Interlocked.Increment(ref _busy);
        QueuedEnvelope? entry = null;
        try
        {
            var held = Environment.TickCount64 < Interlocked.Read(ref _heldUntilMs);
            entry = held || Paused(now) ? null : Claim(now);
            if (entry is not null)
                Send(entry, now);
            else if (!held && !Paused(now))
                CaughtUp();
        }
        finally
        {
            Interlocked.Decrement(ref _busy);
        }
        if (entry is not null)
            return true;
        if (Volatile.Read(ref _inFlight) == 0 && !Paused(now) && (_flushReports || ReportDue()))
            SendReportAlone();
        MarkIdleIfDone();
        WaitForWork();
        return false;
    }

    private void Send(QueuedEnvelope entry, long now)
    {
        var started = Environment.TickCount64;
        var first = Interlocked.Increment(ref _inFlight) == 1;
        if (first)
            Volatile.Write(ref _progressMs, started);
        if (Due(now) == 0)
            CaughtUp();
        else
        {
            Interlocked.CompareExchange(ref _behindSinceMs, started, 0);
            if (SendersWanted(started, stallCounts: !first) is > 0 and var most)
                Help(most);
        }
        try
        {
            SendOne(entry);
        }
        catch (Exception e) when (!_stopping)
        {
            _log?.Invoke($"transport error: {e.Message}");
            Complete(entry);
        }
        finally
        {
            var ended = Environment.TickCount64;
            Volatile.Write(ref _progressMs, ended);
            Interlocked.Increment(ref _sent);
            Interlocked.Decrement(ref _inFlight);
            long was, next;
            do
            {
                was = Volatile.Read(ref _sendMsX16);
                next = was + ((ended - started) * 16 - was) / 8;
            }
            while (Interlocked.CompareExchange(ref _sendMsX16, next, was) != was);
        }
    }

    /// <summary>
    /// Whether no send has ended for a while (a slow server, or a request that hangs): then, or when the
    /// senders fall behind a far server (<see cref="Behind"/>), more senders help. To a near server one
    /// sender keeps up with bursts of hundreds, and each extra one woken for a burst took a core from the
    /// program's threads. To a far one each request waits out the distance, and only more of them at once
    /// keep up.
    /// </summary>
    private bool Stalled() => Environment.TickCount64 - Volatile.Read(ref _progressMs) >= SlowSendMs;

    /// <summary>
    /// Up to how many senders there should be now that envelopes wait: all of them for a far server
    /// (<see cref="Behind"/>), <see cref="StalledSenders"/> when no send ends (<see cref="Stalled"/>, when
    /// <paramref name="stallCounts"/>), else 0: no more.
    /// </summary>
    private int SendersWanted(long nowMs, bool stallCounts) =>
        Behind(nowMs) ? _maxSenders : stallCounts && Stalled() ? StalledSenders : 0;

    /// <summary>
    /// Whether one more sender would help a far server: envelopes have waited without a break for
    /// <see cref="BehindMs"/> (or two sends' time, if longer), sends take <see cref="FarSendMs"/> or more on average, the sender added
    /// last raised the rate of sends, and (from the fifth sender on) the machine has idle CPU. True at most once per
    /// <see cref="BehindMs"/>: senders are added one at a time, each after the last had that long to help;
    /// when one did not help, none is added for <see cref="NoGrowthMs"/>. Sends also take long when the
    /// server is near but starved of CPU (a Sentry stand-in or a Relay on a machine whose cores the
    /// program keeps busy), and there more senders only take more of the cores: with the send time and the
    /// rate as the only tests, a saturated `serve` with a stand-in on 127.0.0.1 (its sends took over 40 ms)
    /// grew to 10–14 senders a session and served 6–13% fewer requests a second than with the old limit of
    /// 4; with the idle test too, it keeps 4 and the same rate (bench/RESULTS.md). Up to 4 grow without
    /// the idle test: on a busy machine the first form of that test kept a lone sender, a send at a time.
    /// </summary>
    private bool Behind(long nowMs)
    {
        var since = Volatile.Read(ref _behindSinceMs);
        var sendMsX16 = Volatile.Read(ref _sendMsX16);
        // Each look spans two sends at least, so that the rate it compares counts whole sends.
        if (since == 0 || sendMsX16 < FarSendMs * 16 || nowMs - since < Math.Max(BehindMs, sendMsX16 / 8)
            || Interlocked.CompareExchange(ref _behindSinceMs, nowMs, since) != since)
            return false;
        lock (_growth)
        {
            var sent = Interlocked.Read(ref _sent);
            var fresh = _caughtUp;   // the first look of a spell behind: the rate starts here
            _caughtUp = false;
            var elapsed = (double)Math.Max(1, nowMs - _checkAtMs);
            var ended = sent - _sentAtCheck;
            var before = _rateBefore;
            _checkAtMs = nowMs;
            _sentAtCheck = sent;
            _rateBefore = -1;
            var idle = CpuIdleSinceLastLook();
            if (fresh)
                return false;
            var senders = SenderCount;
            // The sender added last should have raised the rate by about 1/(senders - 1); half of that will do.
            // A look counts whole sends, so one send more is allowed for where the look fell.
            if (before >= 0 && (ended + 1) / elapsed < before * (1 + 0.5 / Math.Max(1, senders - 1)))
            {
                _noGrowthUntilMs = nowMs + NoGrowthMs;
                return false;
            }
            // A machine without idle CPU: sends may be slow for want of it, and more senders only take more.
            // Up to the stall rule's few, though, as before: without them a far server gets a send at a time.
            if (nowMs < _noGrowthUntilMs || senders >= _maxSenders || senders >= StalledSenders && idle < MinIdleToGrow)
                return false;
            var rate = ended / elapsed;
            _rateBefore = rate;
            return true;
        }
    }

    /// <summary>Nothing waits: a spell behind, if any, is over.</summary>
    private void CaughtUp()
    {
        Volatile.Write(ref _behindSinceMs, 0);
        _caughtUp = true;
    }

    private readonly Lock _growth = new();
    private volatile bool _caughtUp = true;   // no look since the queue was last found empty
    private long _sent;                // sends ended
    private long _checkAtMs;           // Behind's last look, and the sends ended by then
    private long _sentAtCheck;
    private double _rateBefore = -1;   // sends a ms before the last sender was added (-1: none to compare)
    private long _noGrowthUntilMs;

    private const int BehindMs = 250;

    private const int NoGrowthMs = 10_000;

    /// <summary>The machine's idle CPU share below which no sender is added for a far server.</summary>
    private const double MinIdleToGrow = 0.15;

    private const int SlowSendMs = 20;

    /// <summary>The most senders <see cref="Stalled"/> alone adds: a stall is a slow or hung server, where more help little.</summary>
    private const int StalledSenders = 4;

    /// <summary>A send that takes this long on average: the server is far (or slow).</summary>
    private const int FarSendMs = 40;

    /// <summary>More is due while this sender is busy: an idle sender takes it, or a new one while fewer than the most.</summary>
    private void Help(int most)
    {
        lock (_signal)
        {
            if (_waiting > 0)
            {
                _signaled = true;
                Monitor.Pulse(_signal);
                return;
            }
        }
        AddSender(most);
    }

    /// <summary>Waits for a wake (an envelope, a flush, the close) or the tick, whichever comes first.</summary>
    private void WaitForWork()
    {
        lock (_signal)
        {
            if (!_signaled && !_stopping)
            {
                _waiting++;
                Monitor.Wait(_signal, TickInterval);
                _waiting--;
            }
            _signaled = false;
        }
    }

    /// <summary>
    /// Tells an idle sender to look again (a busy one looks again when its send ends). When every sender
    /// is busy and slow, one more starts (up to the most): a far server does not hold the rest back.
    /// </summary>
    private void Wake()
    {
        lock (_signal)
        {
            _signaled = true;
            if (_waiting > 0)
            {
                Monitor.Pulse(_signal);
                return;
            }
        }
        if (Volatile.Read(ref _inFlight) > 0 && SendersWanted(Environment.TickCount64, stallCounts: true) is > 0 and var most)
            AddSender(most);
    }

    /// <summary>Whether a rate limit or backoff holds every send until later.</summary>
    private bool Paused(long now) => now < Interlocked.Read(ref _pausedUntilNs);

    /// <summary>How many envelopes could be sent now (none while paused).</summary>
    private int Due(long now) => Paused(now) ? 0 : _queue.DueCount(now) + (_fallback?.Count ?? 0);

    private void Complete(QueuedEnvelope entry)
    {
        if (entry.Place is null && _fallback is not null)
            _fallback.Complete(entry);
        else
            _queue.Complete(entry);
    }

    private bool ReportDue() => _sendReports && Reports.HasPending && _clock.UnixNs - Interlocked.Read(ref _lastReportNs) >= (long)ReportInterval.TotalNanoseconds;

    private void MarkIdleIfDone()
    {
        lock (_gate)
        {
            if (Volatile.Read(ref _inFlight) == 0 && Due(_clock.UnixNs) == 0 && !_flushReports)
                _idle.TrySetResult();
        }
    }

    private void SendOne(QueuedEnvelope entry)
    {
        var now = _clock.UnixNs;
        var kept = WithinLimits(entry.Envelope, now);
        if (kept is null)
        {
            Complete(entry);
            return;
        }
        EnvelopeItem? report = null;
        if (_sendReports && (_flushReports || ReportDue()) && Interlocked.CompareExchange(ref _reportInFlight, 1, 0) == 0)
        {
            report = Reports.TakeItem(now);
            if (report is null)
                Interlocked.Exchange(ref _reportInFlight, 0);
            else
            {
                kept = kept.With(report);
                Interlocked.Exchange(ref _lastReportNs, now);
            }
        }
        var result = _sink.Send(kept.ForSending(DateTimeOffset.UtcNow));
        Limits.Update(result.Status, result.RateLimits, result.RetryAfter, _clock.UnixNs);
        if (report is not null)
        {
            if (!result.IsSuccess && result.Status != 429)
                Reports.Restore(report);
            Interlocked.Exchange(ref _reportInFlight, 0);
        }
        if (result.IsSuccess)
        {
            lock (_gate) _backoff = MinBackoff;
            Stats.OnSent();
            Complete(entry);
            return;
        }
        if (result.Status == 429)
        {
            // Relay counts what it refuses; the SDK does not report it again (spec §5).
            Stats.OnRejected();
            Complete(entry);
            _log?.Invoke($"{_sink.Name} refused an envelope with 429 (rate limited)");
            return;
        }
        if (result.IsRedirect)
            WarnOnce("redirect", $"Sentry::SDK: {_sink.Name} answered {result.Status} (a redirect); redirects are not followed, so the credentials never leave for another address. Check the DSN.");
        if (result.IsTransient || result.IsRedirect)
        {
            var backoff = Pause();
            if (entry.Place is not null && _queue.IsPersistent)
            {
                Stats.OnParked();
                _queue.Release(entry, _clock.UnixNs + (long)backoff.TotalNanoseconds);
                _log?.Invoke($"{_sink.Name}: {Describe(result)}; kept in the cache, sending again in {backoff.TotalSeconds:0} s");
                return;
            }
        }
        Stats.OnRejected();
        Complete(entry);
        RecordDropped(kept.ItemTypes, result.IsTransient || result.IsRedirect ? DiscardReason.NetworkError : DiscardReason.SendError);
        if (result.Status is (>= 400 and < 500) or < 0)
            WarnOnce("send_error", $"Sentry::SDK: {_sink.Name}: {Describe(result)}; envelopes are dropped (counted)");
        _log?.Invoke($"{_sink.Name}: {Describe(result)}; envelope dropped");
    }

    /// <summary>A transient failure pauses all sending (Sentry asks SDKs not to hammer a failing server); the pause grows.</summary>
    private TimeSpan Pause()
    {
        TimeSpan backoff;
        lock (_gate)
        {
            backoff = _backoff;
            _backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, _backoff.Ticks * 2));
        }
        var until = _clock.UnixNs + (long)backoff.TotalNanoseconds;
        if (until > Interlocked.Read(ref _pausedUntilNs))
            Interlocked.Exchange(ref _pausedUntilNs, until);
        return backoff;
    }

    private static string Describe(SinkResult r) => r.Status <= 0 ? r.Error ?? "no answer" : $"HTTP {r.Status} {r.Error}";

    private void SendReportAlone()
    {
        _flushReports = false;
        if (!_sendReports || Interlocked.CompareExchange(ref _reportInFlight, 1, 0) != 0)
            return;
        try
        {
            var report = Reports.TakeItem(_clock.UnixNs);
            if (report is null)
                return;
            Interlocked.Exchange(ref _lastReportNs, _clock.UnixNs);
            var envelope = SerializedEnvelope.From(Envelope.FromItems(null, SdkInfo.Default, [report]));
            var result = _sink.Send(envelope.ForSending(DateTimeOffset.UtcNow));
            Limits.Update(result.Status, result.RateLimits, result.RetryAfter, _clock.UnixNs);
            if (result.IsSuccess)
                Stats.OnSent();
            else if (result.IsTransient || result.IsRedirect)
            {
                Reports.Restore(report);
                Pause();
            }
        }
        finally
        {
            Interlocked.Exchange(ref _reportInFlight, 0);
        }
    }

    public async Task<bool> FlushAsync(TimeSpan timeout)
    {
        Task idle;
        lock (_gate)
        {
            if (_sendReports && Reports.HasPending)
            {
                _flushReports = true;
                if (_idle.Task.IsCompleted)
                    _idle = NewIdle(completed: false);
            }
            idle = _idle.Task;
        }
        Wake();
        var done = await Task.WhenAny(idle, Task.Delay(timeout)).ConfigureAwait(false);
        return done == idle;
    }

    public async Task CloseAsync(TimeSpan timeout)
    {
        var flushed = await FlushAsync(timeout).ConfigureAwait(false);
        // Counts not delivered yet go into the journal, so the next run sends them (once).
        if (_sendReports && _queue.IsPersistent && _fallback is null && Reports.TakeItem(_clock.UnixNs) is { } report)
        {
            try
            {
                _queue.Add(SerializedEnvelope.From(Envelope.FromItems(null, SdkInfo.Default, [report])), evict: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                Reports.Restore(report);
            }
        }
        if (!flushed)
            _log?.Invoke($"shutdown_timeout reached; {_queue.Count} envelope(s) stay in the cache for the next run");
        var senders = Stop();
        // A request still in flight after this is abandoned (Dispose closes its connection); its record
        // stays in the journal for the next process.
        await Task.Run(() =>
        {
            var until = Environment.TickCount64 + 100;
            foreach (var t in senders)
                t.Join((int)Math.Max(0, until - Environment.TickCount64));
        }).ConfigureAwait(false);
    }

    /// <summary>Tells the senders to stop after what they are sending; returns them.</summary>
    private Thread[] Stop()
    {
        _stopping = true;
        lock (_signal)
            Monitor.PulseAll(_signal);
        lock (_senders)
            return [.. _senders];
    }

    public void Dispose()
    {
        Stop();
        _queue.Dispose();
        _sink.Dispose();
    }
}
