namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// The SDK's transport (spec §5): rate limits are applied when an envelope is queued and again
/// when it is sent; a worker sends the queue in order; client reports for what was dropped ride
/// along with the next envelope (at most every 30 s) or go alone at flush. A transient failure
/// (network error, timeout, 5xx) keeps the envelope in the disk cache and backs off; without a
/// cache it is dropped as <c>network_error</c>.
/// </summary>
public sealed class BackgroundTransport : ITransport
{
    private static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);

    private readonly IEnvelopeSink _sink;
    private readonly IEnvelopeQueue _queue;
    private readonly IClock _clock;
    private readonly Action<string>? _log;
    private readonly bool _sendReports;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;
    private readonly Lock _idleGate = new();
    private TaskCompletionSource _idle = NewIdle(completed: true);
    private int _inFlight;
    private long _lastReportNs;
    private TimeSpan _backoff = MinBackoff;
    private volatile bool _flushReports;

    public BackgroundTransport(IEnvelopeSink sink, IEnvelopeQueue queue, IClock clock, RateLimits? limits = null,
        ClientReports? reports = null, bool sendClientReports = true, Action<string>? log = null)
    {
        _sink = sink;
        _queue = queue;
        _clock = clock;
        Limits = limits ?? new RateLimits();
        Reports = reports ?? new ClientReports();
        _sendReports = sendClientReports;
        _log = log;
        _lastReportNs = clock.UnixNs;
        if (queue.Count > 0)
            _idle = NewIdle(completed: false);   // a flush waits for what earlier runs left
        if (queue.Count > 0)
            _log?.Invoke($"{queue.Count} envelope(s) from an earlier run are in the cache; sending them");
        _worker = Task.Run(WorkAsync);
        _wake.Release();
    }

    public RateLimits Limits { get; }

    public ClientReports Reports { get; }

    public TransportStats Stats { get; } = new();

    private static TaskCompletionSource NewIdle(bool completed)
    {
        var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed) t.SetResult();
        return t;
    }

    public Task SendEnvelopeAsync(Envelope envelope, CancellationToken cancel = default)
    {
        try
        {
            var (kept, dropped) = Limits.Filter(envelope, _clock.UnixNs);
            RecordDropped(dropped, DiscardReason.RateLimitBackoff);
            if (kept is null)
                return Task.CompletedTask;
            var overflow = _queue.Add(kept.SerializeUnsent());
            Stats.OnQueued();
            // After the add: the worker may already have sent it, and then it marks idle again on the wake below.
            lock (_idleGate)
            {
                if (_idle.Task.IsCompleted)
                    _idle = NewIdle(completed: false);
            }
            foreach (var d in overflow)
                RecordDropped(Envelope.Parse(d).Items, _queue.IsPersistent ? DiscardReason.CacheOverflow : DiscardReason.QueueOverflow);
            _wake.Release();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            RecordDropped(envelope.Items, DiscardReason.InternalSdkError);
            _log?.Invoke($"cannot queue an envelope: {e.Message}");
        }
        return Task.CompletedTask;
    }

    private void RecordDropped(IEnumerable<EnvelopeItem> items, string reason)
    {
        foreach (var item in items.Where(i => i.Type != "client_report"))
        {
            Reports.Record(reason, DataCategory.OfItem(item.Type));
            _log?.Invoke($"dropped a {item.Type} item: {reason}");
        }
    }

    private async Task WorkAsync()
    {
        var cancel = _stop.Token;
        while (!cancel.IsCancellationRequested)
        {
            var entry = _queue.TryClaim(_clock.UnixNs);
            if (entry is null)
            {
                if (_flushReports || ReportDue())
                    await SendReportAloneAsync(cancel).ConfigureAwait(false);
                MarkIdleIfDone();
                try
                {
                    await _wake.WaitAsync(TimeSpan.FromSeconds(1), cancel).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                continue;
            }
            Interlocked.Increment(ref _inFlight);
            try
            {
                await SendOneAsync(entry, cancel).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _log?.Invoke($"transport error: {e.Message}");
                _queue.Complete(entry);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    private bool ReportDue() => _sendReports && Reports.HasPending && _clock.UnixNs - _lastReportNs >= (long)ReportInterval.TotalNanoseconds;

    private void MarkIdleIfDone()
    {
        lock (_idleGate)
        {
            if (Volatile.Read(ref _inFlight) == 0 && _queue.DueCount(_clock.UnixNs) == 0 && !_flushReports)
                _idle.TrySetResult();
        }
    }

    private async Task SendOneAsync(QueuedEnvelope entry, CancellationToken cancel)
    {
        var now = _clock.UnixNs;
        Envelope envelope;
        try
        {
            envelope = Envelope.Parse(entry.Data);
        }
        catch (Exception e) when (e is FormatException or Newtonsoft.Json.JsonException)
        {
            _log?.Invoke($"a cached envelope is unreadable and was deleted: {e.Message}");
            _queue.Complete(entry);
            return;
        }
        var (kept, dropped) = Limits.Filter(envelope, now);
        RecordDropped(dropped, DiscardReason.RateLimitBackoff);
        if (kept is null)
        {
            _queue.Complete(entry);
            return;
        }
        EnvelopeItem? report = null;
        if (_sendReports && (_flushReports || ReportDue()))
        {
            report = Reports.TakeItem(now);
            if (report is not null)
            {
                kept = kept.WithItems([.. kept.Items, report]);
                _lastReportNs = now;
            }
        }
        var result = await _sink.SendAsync(kept.Serialize(DateTimeOffset.UtcNow), cancel).ConfigureAwait(false);
        Limits.Update(result.Status, result.RateLimits, result.RetryAfter, _clock.UnixNs);
        if (result.IsSuccess)
        {
            _backoff = MinBackoff;
            Stats.OnSent();
            _queue.Complete(entry);
            return;
        }
        if (result.Status == 429)
        {
            // Relay counts what it refuses; the SDK does not report it again (spec §5).
            Stats.OnRejected();
            _queue.Complete(entry);
            _log?.Invoke($"{_sink.Name} refused an envelope with 429 (rate limited)");
            return;
        }
        if (report is not null)
            Reports.Restore(report);
        if (result.IsTransient && _queue.IsPersistent)
        {
            Stats.OnParked();
            _queue.Release(entry, _clock.UnixNs + (long)_backoff.TotalNanoseconds);
            _log?.Invoke($"{_sink.Name}: {Describe(result)}; kept in the cache, next try in {_backoff.TotalSeconds:0} s");
            _backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, _backoff.Ticks * 2));
            return;
        }
        Stats.OnRejected();
        _queue.Complete(entry);
        RecordDropped(kept.Items, result.IsTransient ? DiscardReason.NetworkError : DiscardReason.SendError);
        _log?.Invoke($"{_sink.Name}: {Describe(result)}; envelope dropped");
    }

    private static string Describe(SinkResult r) => r.Status == 0 ? r.Error ?? "no answer" : $"HTTP {r.Status} {r.Error}";

    private async Task SendReportAloneAsync(CancellationToken cancel)
    {
        _flushReports = false;
        if (!_sendReports)
            return;
        var report = Reports.TakeItem(_clock.UnixNs);
        if (report is null)
            return;
        _lastReportNs = _clock.UnixNs;
        var envelope = Envelope.FromItems(null, SdkInfo.Default, [report]);
        var result = await _sink.SendAsync(envelope.Serialize(DateTimeOffset.UtcNow), cancel).ConfigureAwait(false);
        Limits.Update(result.Status, result.RateLimits, result.RetryAfter, _clock.UnixNs);
        if (result.IsSuccess)
            Stats.OnSent();
        else if (result.IsTransient)
            Reports.Restore(report);
    }

    public async Task<bool> FlushAsync(TimeSpan timeout)
    {
        Task idle;
        lock (_idleGate)
        {
            if (_sendReports && Reports.HasPending)
            {
                _flushReports = true;
                if (_idle.Task.IsCompleted)
                    _idle = NewIdle(completed: false);
            }
            idle = _idle.Task;
        }
        _wake.Release();
        var done = await Task.WhenAny(idle, Task.Delay(timeout)).ConfigureAwait(false);
        return done == idle;
    }

    public async Task CloseAsync(TimeSpan timeout)
    {
        var flushed = await FlushAsync(timeout).ConfigureAwait(false);
        if (!flushed)
            _log?.Invoke($"shutdown_timeout reached; {_queue.Count} envelope(s) stay in the cache for the next run");
        _stop.Cancel();
        try
        {
            await _worker.WaitAsync(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // an in-flight request is abandoned; its claim is taken back by the next process
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _sink.Dispose();
    }
}
