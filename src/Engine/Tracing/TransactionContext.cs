using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Tracing;

/// <summary>
/// What a transaction starts from: its name and op, and, when it continues an incoming trace,
/// the parsed <c>sentry-trace</c> and <c>baggage</c> headers.
/// </summary>
public sealed record TransactionContext
{
    public string Name { get; init; } = "<unlabeled transaction>";

    public string? Op { get; init; }

    public string? Description { get; init; }

    /// <summary><c>transaction_info.source</c>: custom, url, route, view, component or task.</summary>
    public string Source { get; init; } = "custom";

    public TraceHeaders.TraceParent? Parent { get; init; }

    /// <summary>The incoming trace's DSC (from baggage): frozen, propagated as is.</summary>
    public JObject? Baggage { get; init; }

    /// <summary>An explicit decision (<c>sampled =&gt; 0|1</c>), which wins over samplers and rates.</summary>
    public bool? Sampled { get; init; }

    /// <summary>
    /// The transaction event's id when the client names it (so a call sent twice, to an agent that
    /// restarted, makes an event Sentry recognises as the same).
    /// </summary>
    public string? EventId { get; init; }

    /// <summary>The rate an explicit decision was made at (the DSC's <c>sample_rate</c>); default 1 or 0.</summary>
    public double? SampleRate { get; init; }

    public JObject ToSamplingJson()
    {
        var o = new JObject { ["name"] = Name, ["source"] = Source };
        if (Op is not null) o["op"] = Op;
        if (Description is not null) o["description"] = Description;
        if (Parent is not null)
        {
            o["trace_id"] = Parent.TraceId;
            o["parent_span_id"] = Parent.ParentSpanId;
            if (Parent.Sampled is not null) o["parent_sampled"] = Parent.Sampled;
        }
        return o;
    }
}
