using System.Globalization;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tracing;

/// <summary>
/// The root span of a trace segment, sent as a <c>transaction</c> event when finished (spec §6)
/// together with its profile when it has one.
/// </summary>
public sealed class Transaction : Span
{
    private readonly List<Span> _spans = [];
    private readonly int _maxSpans;
    private readonly Action<Transaction> _onFinish;

    internal Transaction(TransactionContext ctx, bool sampled, double? sampleRate, long startNs, int maxSpans, Action<Transaction> onFinish)
        : base(ctx.Parent?.TraceId ?? SentryIds.NewTraceId(), SentryIds.NewSpanId(), ctx.Parent?.ParentSpanId, sampled, startNs)
    {
        Root = this;
        Name = ctx.Name;
        Op = ctx.Op;
        Description = ctx.Description;
        Source = ctx.Source;
        SampleRate = sampleRate;
        Baggage = ctx.Baggage;
        if (SentryIds.IsHex(ctx.EventId, 32))
            EventId = ctx.EventId!;
        _maxSpans = maxSpans;
        _onFinish = onFinish;
    }

    private Transaction(string traceId, string spanId, string? parentSpanId, bool? sampled, string name, JObject? baggage, long startNs)
        : base(traceId, spanId, parentSpanId, sampled, startNs)
    {
        Root = this;
        Name = name;
        Source = "custom";
        Baggage = baggage;
        IsInherited = true;
        _onFinish = _ => { };
    }

    /// <summary>
    /// A span of another process (the parent of a fork, open when it forked): its ids, so events and
    /// spans here join its trace, and its frozen DSC. Finishing it here sends nothing: the parent does.
    /// </summary>
    public static Transaction Inherited(string traceId, string spanId, string? parentSpanId, bool? sampled, string name, JObject? dsc, long startNs) =>
        new(traceId, spanId, parentSpanId, sampled, name, dsc, startNs);

    /// <summary>Made by <see cref="Inherited"/>: not this process's to send.</summary>
    public bool IsInherited { get; }

    /// <summary>The transaction event's id, known from the start so its profile can point at it.</summary>
    public string EventId { get; private init; } = SentryIds.NewEventId();

    public string Name { get; set; }

    public string Source { get; set; }

    public double? SampleRate { get; }

    /// <summary>The incoming trace's DSC, when continued from baggage.</summary>
    public JObject? Baggage { get; }

    public bool IsSampled => Sampled == true;

    public IReadOnlyList<Span> Spans => _spans;

    /// <summary>Contexts the transaction carries besides <c>trace</c> (e.g. <c>profile</c>).</summary>
    public JObject Contexts { get; } = [];

    /// <summary>The sampled thread that ran it: <c>contexts.trace.data["thread.id"]</c> (spec §3, §6).</summary>
    public string? ThreadId { get; set; }

    public string? ThreadName { get; set; }

    /// <summary>Set by the profiler when this transaction carries a v1 profile.</summary>
    public object? ProfileState { get; set; }

    /// <summary>The profile decision, when it was made with the transaction's own (profiling configured, tracing not).</summary>
    public bool? ProfileDecision { get; init; }

    internal void Register(Span child)
    {
        // Spans past max_spans still time their work; they are just not sent. Nor are those started
        // after the transaction finished (it may be being written on another thread).
        if (_spans.Count < _maxSpans && !IsFinished)
            _spans.Add(child);
    }

    public override bool Finish(long nowNs)
    {
        if (!base.Finish(nowNs))
            return false;
        Status ??= SpanStatus.Ok;   // finished without one: it went well
        _onFinish(this);
        return true;
    }

    /// <summary>The dynamic sampling context: the incoming one when continued, else this trace's head.</summary>
    public JObject DynamicSamplingContext(SentryOptions options)
    {
        if (Baggage is not null)
            return (JObject)Baggage.DeepClone();
        var dsc = new JObject { ["trace_id"] = TraceId };
        if (options.Dsn is not null) dsc["public_key"] = options.Dsn.PublicKey;
        if (options.Release is not null) dsc["release"] = options.Release;
        dsc["environment"] = options.Environment;
        if (Source != "url") dsc["transaction"] = Name;
        if (SampleRate is not null) dsc["sample_rate"] = SampleRate.Value.ToString("R", CultureInfo.InvariantCulture);
        dsc["sampled"] = IsSampled ? "true" : "false";
        return dsc;
    }

    /// <summary>The transaction event before the scope and client options are applied.</summary>
    public JObject ToEvent()
    {
        var trace = TraceContext();
        var threadData = ThreadData();
        if (threadData is not null)
        {
            var data = trace["data"] as JObject ?? [];
            data.Merge(threadData);
            trace["data"] = data;
        }
        var contexts = Contexts.HasValues ? (JObject)Contexts.DeepClone() : [];
        contexts["trace"] = trace;
        var evt = new JObject
        {
            ["type"] = "transaction",
            ["transaction"] = Name,
            ["transaction_info"] = new JObject { ["source"] = Source },
            ["start_timestamp"] = Timestamps.ToEpochSeconds(StartNs),
            ["timestamp"] = Timestamps.ToEpochSeconds(EndNs ?? StartNs),
            ["contexts"] = contexts,
            ["spans"] = SpansJson(),
        };
        if (Tags.Count > 0)
            evt["tags"] = JsonTags.From(Tags);
        return evt;
    }

    /// <summary>
    /// The finished spans, written as JSON once (a transaction's spans are most of its size): a raw
    /// token in the event, which <see cref="PerlSentry.Engine.Session.SessionValues.ToPerl"/> turns into
    /// a list when a callback is to see the event.
    /// </summary>
    internal JRaw SpansJson()
    {
        var text = new StringWriter(new StringBuilder(64 + 320 * _spans.Count), CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(text) { Formatting = Formatting.None })
            WriteSpans(w);
        return new JRaw(text.ToString());
    }

    /// <summary>The finished spans as a JSON array.</summary>
    internal void WriteSpans(JsonWriter w)
    {
        w.WriteStartArray();
        foreach (var s in _spans)
        {
            if (s.IsFinished)
                s.WriteJson(w, ThreadId, ThreadName);
        }
        w.WriteEndArray();
    }

    private JObject? ThreadData() => ThreadId is null ? null
        : new JObject { ["thread.id"] = ThreadId, ["thread.name"] = ThreadName ?? "main" };
}
