using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Session;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// Turns captured events and finished transactions into envelopes: client options, the scope,
/// sample_rate, before_send / before_send_transaction, then the transport. What it drops is
/// counted as client reports. Callback failures are logged and never lose the event.
/// </summary>
public sealed class SentryClient(SentryOptions options, ITransport? transport, ClientReports reports, IClock clock, Action<string>? log,
    SamplingDecider? decider = null)
{
    private readonly SamplingDecider _decider = decider ?? new SamplingDecider(options, log);

    public SentryOptions Options { get; } = options;

    public ITransport? Transport { get; } = transport;

    /// <summary>What the program must see once, not only under <c>debug</c> (an event too large to send); default: the debug log.</summary>
    public Action<string>? Warn { get; set; }

    public ClientReports Reports { get; } = reports;

    private readonly Dictionary<string, JRaw> _defaultContexts = new(StringComparer.Ordinal);

    // Written once: every event carries the same copy, a raw token (cheap to clone; a callback sees it parsed).
    private static readonly JRaw SdkJson = RawJson.From(new JObject { ["name"] = SdkInfo.Default.Name, ["version"] = SdkInfo.Default.Version });

    /// <summary>A context every event gets unless it has its own (runtime, os), set by the front end.</summary>
    public void SetDefaultContext(string name, JObject value) =>
        _defaultContexts[name] = RawJson.From(value);

    public bool IsEnabled => Transport is not null;

    /// <param name="owned">The caller made <paramref name="source"/> for this call: it is changed in place instead of copied.</param>
    public string? CaptureEvent(JObject source, Scope? scope, bool owned = false)
    {
        var evt = Prepare(owned ? source : (JObject)source.DeepClone(), "error");
        var id = (string)evt["event_id"]!;
        if (scope is not null)
        {
            var applied = SafeCall("an event processor", () => scope.ApplyTo(evt), evt);
            if (applied is null)
                return Drop(DiscardReason.EventProcessor, DataCategory.Error, id);
            evt = applied;
        }
        if (!_decider.SampleError())
            return Drop(DiscardReason.SampleRate, DataCategory.Error, id);
        if (Options.BeforeSend is { } beforeSend)
        {
            var kept = SafeCall("before_send", () => beforeSend(RawJson.Expand(evt)), evt);
            if (kept is null)
                return Drop(DiscardReason.BeforeSend, DataCategory.Error, id);
            evt = kept;
        }
        evt["event_id"] = id;
        if (EventSize.Fit(Serialize(evt)) is not { } payload)
            return TooLarge(id);
        var dsc = EventDsc(scope);
        Send(Envelope.FromItems(id, SdkInfo.Default, [new EnvelopeItem("event", payload)], dsc));
        return id;
    }

    private DirectEvent.Client? _direct;
    private static readonly InAppRules NoInApp = new([]);   // transactions have no frames to mark

    /// <summary>What <see cref="DirectEvent"/> writes into every event from this client.</summary>
    /// <param name="inApp">How to mark exception frames; null: any (a transaction has none).</param>
    internal DirectEvent.Client DirectClient(InAppRules? inApp) =>
        _direct is { } d && (inApp is null || ReferenceEquals(d.InApp, inApp)) ? d
            : _direct = new DirectEvent.Client(Options, _defaultContexts, SdkJson, inApp ?? NoInApp);

    /// <summary>
    /// Captures an event given as the program's values, written straight to its envelope's bytes when
    /// nothing is to see it on the way (<see cref="DirectEvent"/>). False, having done nothing, when it
    /// must take the tree (<see cref="CaptureEvent"/>); else true, with its id (null when dropped).
    /// </summary>
    public bool TryCaptureDirect(IDictionary<string, object?> values, Scope? scope, InAppRules inApp, out string? id)
    {
        id = null;
        if (Transport is null || Options.BeforeSend is not null || scope is { EventProcessors.Count: > 0 } || !DirectEvent.Applies(values))
            return false;
        if (Writer is { } writer && !SessionValues.HasPerlRefs(values))
        {
            // The program's part: the id, the sample roll, the time, a copy of the scope; the writer does the rest.
            var eventId = DirectEvent.IdOf(values);
            values["event_id"] = eventId;
            if (!_decider.SampleError())
            {
                Drop(DiscardReason.SampleRate, DataCategory.Error, eventId);
                return true;
            }
            var now = clock.UnixNs;
            var frozen = scope?.ForWriting();
            var direct = DirectClient(inApp);
            writer.Post(() => SendEvent(DirectEvent.Write(values, frozen, direct, now, out _), eventId, EventDsc(frozen)));
            id = eventId;
            return true;
        }
        var payload = DirectEvent.Write(values, scope, DirectClient(inApp), clock.UnixNs, out var written);
        if (!_decider.SampleError())
        {
            Drop(DiscardReason.SampleRate, DataCategory.Error, written);
            return true;
        }
        id = SendEvent(payload, written, EventDsc(scope));
        return true;
    }

    /// <summary>An event's envelope to the transport, cut to fit Sentry's size limit; its id, or null when it cannot fit.</summary>
    private string? SendEvent(string payload, string eventId, JObject? dsc)
    {
        if (EventSize.Fit(payload) is not { } fitted)
            return TooLarge(eventId);
        Transport!.Send(SerializedEnvelope.OfEvent(eventId, SdkJson, [new EnvelopeItem("event", fitted)], dsc));
        return eventId;
    }

    /// <summary>
    /// Where envelopes are written when the program's thread is not to wait for it (in the host the
    /// interpreters are in); null: on the calling thread.
    /// </summary>
    public CaptureWriter? Writer { get; set; }

    /// <summary>
    /// Sends a finished transaction with its profile (made by <paramref name="profile"/>, which may run
    /// on the writer: it must only read what the finish fixed).
    /// </summary>
    public void CaptureFinished(Transaction tx, Scope? scope, Func<EnvelopeItem?>? profile)
    {
        if (WritesDirect(scope))
        {
            // Nothing is to see it on the way: written straight to its envelope (DirectEvent).
            if (Writer is { } writer)
            {
                var frozen = scope?.ForWriting(withTrace: false);
                var direct = DirectClient(null);
                writer.Post(() => SendTransaction(tx, frozen, profile?.Invoke(), direct));
            }
            else
                SendTransaction(tx, scope, profile?.Invoke(), DirectClient(null));
            return;
        }
        CaptureTransaction(tx, scope, profile?.Invoke());
    }

    private void SendTransaction(Transaction tx, Scope? scope, EnvelopeItem? profile, DirectEvent.Client direct)
    {
        var payload = DirectEvent.WriteTransaction(tx, scope, direct);
        Transport!.Send(SerializedEnvelope.OfEvent(tx.EventId, SdkJson,
            profile is null ? [new EnvelopeItem("transaction", payload)] : [new EnvelopeItem("transaction", payload), profile],
            tx.DynamicSamplingContext(Options)));
    }

    /// <summary>Whether nothing is to see a transaction on its way (no transport, callback or processor), so it is written straight to its envelope.</summary>
    private bool WritesDirect(Scope? scope) =>
        Transport is not null && Options.BeforeSendTransaction is null && scope is not { EventProcessors.Count: > 0 };

    /// <summary>A transaction through the tree: its scope's processors and <c>before_send_transaction</c> see it.</summary>
    public void CaptureTransaction(Transaction tx, Scope? scope, EnvelopeItem? profile)
    {
        var evt = tx.ToEvent();
        evt["event_id"] = tx.EventId;
        evt = Prepare(evt, null);   // made here: no copy needed
        if (scope is not null)
        {
            var applied = SafeCall("an event processor", () => scope.ApplyTo(evt), evt);
            if (applied is null)
            {
                DropTransaction(tx, profile, DiscardReason.EventProcessor);
                return;
            }
            evt = applied;
        }
        if (Options.BeforeSendTransaction is { } before)
        {
            var kept = SafeCall("before_send_transaction", () => before(RawJson.Expand(evt)), evt);
            if (kept is null)
            {
                DropTransaction(tx, profile, DiscardReason.BeforeSend);
                return;
            }
            evt = kept;
        }
        evt["event_id"] = tx.EventId;
        evt["type"] = "transaction";
        var items = new List<EnvelopeItem> { new("transaction", Serialize(evt)) };
        if (profile is not null)
            items.Add(profile);
        Send(Envelope.FromItems(tx.EventId, SdkInfo.Default, items, tx.DynamicSamplingContext(Options)));
    }

    /// <summary>A dropped transaction takes its profile with it; both are counted.</summary>
    private void DropTransaction(Transaction tx, EnvelopeItem? profile, string reason)
    {
        Drop(reason, DataCategory.Transaction, tx.EventId);
        if (profile is not null)
            Reports.Record(reason, DataCategory.Profile);
    }

    public void Send(Envelope envelope)
    {
        if (Transport is null)
        {
            log?.Invoke($"no dsn, envelope_dir or spotlight: {string.Join(", ", envelope.Items.Select(i => i.Type))} not sent");
            return;
        }
        _ = Transport.SendEnvelopeAsync(envelope);
    }

    /// <summary>
    /// The DSC an event's envelope carries (the scope's trace), or null without a DSN: Relay needs the
    /// public key, so no envelope would carry it and it is not built.
    /// </summary>
    private JObject? EventDsc(Scope? scope) => Options.Dsn is null ? null : scope?.DynamicSamplingContext(Options);

    private int _warnedTooLarge;

    /// <summary>An event that cannot be made to fit Sentry's size limit: dropped, counted, said once.</summary>
    private string? TooLarge(string id)
    {
        if (Interlocked.Exchange(ref _warnedTooLarge, 1) == 0)
            (Warn ?? log)?.Invoke($"Sentry::SDK: event {id} is larger than Sentry accepts (1 MiB) even without its breadcrumbs and extra; it was dropped (further ones are counted, not said)");
        return Drop(DiscardReason.SendError, DataCategory.Error, id);
    }

    private string? Drop(string reason, string category, string id)
    {
        Reports.Record(reason, category);
        log?.Invoke($"{category} {id} dropped: {reason}");
        return null;
    }

    private JObject Prepare(JObject evt, string? defaultLevel)
    {
        if (!SentryIds.IsHex((string?)evt["event_id"], 32))
            evt["event_id"] = SentryIds.NewEventId();
        evt["timestamp"] ??= Timestamps.ToEpochSeconds(clock.UnixNs);
        evt["platform"] = "perl";
        evt["sdk"] = SdkJson.DeepClone();
        if (defaultLevel is not null) evt["level"] ??= defaultLevel;
        if (Options.Release is not null) evt["release"] ??= Options.Release;
        evt["environment"] ??= Options.Environment;
        if (Options.Dist is not null) evt["dist"] ??= Options.Dist;
        if (Options.ServerName is not null) evt["server_name"] ??= Options.ServerName;
        if (_defaultContexts.Count > 0)
        {
            if (evt["contexts"] is not JObject contexts)
                evt["contexts"] = contexts = [];
            foreach (var (name, value) in _defaultContexts)
                contexts[name] ??= value.DeepClone();
        }
        return evt;
    }

    private JObject? SafeCall(string what, Func<JObject?> call, JObject unchanged)
    {
        try
        {
            return call();
        }
        catch (Exception e) when (e is not CallbackAbortedException)
        {
            // A failing callback must not lose the event (nor break the program): send it as it was.
            log?.Invoke($"{what} failed ({e.Message}); the event is sent unchanged");
            return unchanged;
        }
    }

    private static string Serialize(JObject evt) => evt.ToString(Newtonsoft.Json.Formatting.None);

    public bool Flush(TimeSpan timeout)
    {
        var started = DateTime.UtcNow;
        if (Writer is { } writer && !writer.Drain(timeout))
            return false;
        return Transport is null || Transport.FlushAsync(Left(timeout, started)).GetAwaiter().GetResult();
    }

    private static TimeSpan Left(TimeSpan timeout, DateTime started)
    {
        var left = timeout - (DateTime.UtcNow - started);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    public void Close(TimeSpan timeout)
    {
        var started = DateTime.UtcNow;
        Writer?.Drain(timeout);
        timeout = Left(timeout, started);
        if (Transport is null)
            return;
        Transport.CloseAsync(timeout).GetAwaiter().GetResult();
        Transport.Dispose();
    }
}
