using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tracing;

/// <summary>
/// The trace that events belong to when no span is active (Sentry's unified API): a random trace and
/// span id made with the hub, copied into pushed scopes and forked children, so errors captured
/// outside a transaction still join a trace (<c>contexts.trace</c> and the envelope's DSC).
/// </summary>
public sealed record PropagationContext(string TraceId, string SpanId)
{
    public static PropagationContext New() => new(SentryIds.NewTraceId(), SentryIds.NewSpanId());

    /// <summary><c>contexts.trace</c> of an event captured outside a span.</summary>
    public JObject TraceContext() => new() { ["trace_id"] = TraceId, ["span_id"] = SpanId };

    /// <summary>The dynamic sampling context of this trace's head (no transaction, no sampling decision yet).</summary>
    public JObject DynamicSamplingContext(SentryOptions options)
    {
        var dsc = new JObject { ["trace_id"] = TraceId };
        if (options.Dsn is not null) dsc["public_key"] = options.Dsn.PublicKey;
        if (options.Release is not null) dsc["release"] = options.Release;
        dsc["environment"] = options.Environment;
        return dsc;
    }
}
