using System.Globalization;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;
using static PerlSentry.Engine.Session.SessionValues;

namespace PerlSentry.Engine.Session;

/// <summary>The methods of <c>Sentry::Tracing::Span</c> and <c>::Transaction</c>: setters (one-way) and readers, by name.</summary>
internal static class SpanCalls
{
    /// <summary>
    /// A transaction context from <c>start_transaction</c>'s hash: name, op, description, source,
    /// sampled, and an incoming trace as <c>sentry_trace</c>/<c>baggage</c> header values (or
    /// <c>trace_id</c>, <c>parent_span_id</c>, <c>parent_sampled</c>).
    /// </summary>
    public static TransactionContext Context(IReadOnlyDictionary<string, object?> h)
    {
        string? S(string k) => Text(h.GetValueOrDefault(k));
        var parent = TraceHeaders.ParseTraceParent(S("sentry_trace") ?? S("sentry-trace"));
        if (parent is null && SentryIds.IsHex(S("trace_id"), 32) && SentryIds.IsHex(S("parent_span_id"), 16))
            parent = new TraceHeaders.TraceParent(S("trace_id")!, S("parent_span_id")!,
                h.GetValueOrDefault("parent_sampled") is { } ps ? Truthy(ps) : null);
        var source = S("source") ?? "custom";
        if (source is not ("custom" or "url" or "route" or "view" or "component" or "task"))
            throw new SessionCallException($"transaction source '{source}' is not one of custom, url, route, view, component, task");
        return new TransactionContext
        {
            Name = S("name") ?? "<unlabeled transaction>",
            Op = S("op"),
            Description = S("description"),
            Source = source,
            Parent = parent,
            Baggage = parent is null ? null : TraceHeaders.ParseBaggage(S("baggage")),
            Sampled = h.GetValueOrDefault("sampled") is { } sampled ? Truthy(sampled) : null,
            EventId = S("event_id"),
        };
    }

    public static Span StartChild(EngineSession session, Span parent, IReadOnlyDictionary<string, object?> h)
    {
        var child = parent.StartChild(Text(h.GetValueOrDefault("op")), Text(h.GetValueOrDefault("description")), session.Hub.Clock.UnixNs);
        foreach (var (k, v) in Hash(h.GetValueOrDefault("data"))) child.Data[k] = ToJson(v);
        foreach (var (k, v) in Hash(h.GetValueOrDefault("tags"))) child.Tags[k] = Text(v) ?? "";
        return child;
    }

    public static object? Set(EngineSession session, Span s, string method, object?[] a)
    {
        object? A(int i) => i < a.Length ? a[i] : null;
        if (s.Root.IsFinished && (!ReferenceEquals(s, s.Root) || method != "finish"))
        {
            // Its transaction was sent (or is being written, off this thread): what changes now would not be in it.
            session.Log($"{(ReferenceEquals(s, s.Root) ? "transaction" : "span")} '{s.Op ?? s.Root.Name}': {method} after the transaction finished is ignored");
            return method == "finish" ? 0L : null;
        }
        switch (method)
        {
            case "finish":
                return s.Finish(Number(A(0)) is { } ts ? Timestamps.FromEpochSeconds(ts) : session.Hub.Clock.UnixNs) ? 1L : 0L;
            case "set_tag": s.Tags[Text(A(0)) ?? ""] = Text(A(1)) ?? ""; break;
            case "set_data": s.Data[Text(A(0)) ?? ""] = ToJson(A(1)); break;
            case "set_status": s.Status = Text(A(0)); break;
            case "set_http_status":
                if (Number(A(0)) is { } code)
                    s.SetHttpStatus((int)code);
                break;
            case "set_op": s.Op = Text(A(0)); break;
            case "set_description": s.Description = Text(A(0)); break;
            case "set_name": s.Root.Name = Text(A(0)) ?? s.Root.Name; break;
            case "set_source": s.Root.Source = Text(A(0)) ?? s.Root.Source; break;
            default: throw new SessionCallException($"Sentry::Tracing::Span has no method '{method}'");
        }
        return null;
    }

    public static object? Get(EngineSession session, Span s, string method) => method switch
    {
        "get" => Fields(s),
        "to_trace_parent" => s.ToTraceParent(),
        "to_baggage" => TraceHeaders.FormatBaggage(s.Root.DynamicSamplingContext(session.Options)),
        "transaction" => HandleOf(session, s.Root),
        _ => throw new SessionCallException($"Sentry::Tracing::Span has no method '{method}'"),
    };

    /// <summary>A span as the client gets it back: its handle id and whether it is a transaction.</summary>
    public static object?[] HandleOf(EngineSession session, Span s) => [session.Handles.IdOf(s), s is Transaction ? 1L : 0L];

    private static Dictionary<string, object?> Fields(Span s)
    {
        var d = new Dictionary<string, object?>
        {
            ["trace_id"] = s.TraceId,
            ["span_id"] = s.SpanId,
            ["parent_span_id"] = s.ParentSpanId,
            ["op"] = s.Op,
            ["description"] = s.Description,
            ["status"] = s.Status,
            ["tags"] = s.Tags.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
            ["data"] = ToPerl(s.Data),
            ["start_timestamp"] = Timestamps.ToEpochSeconds(s.StartNs),
            ["timestamp"] = s.EndNs is { } e ? Timestamps.ToEpochSeconds(e) : null,
            ["sampled"] = s.Sampled is { } smp ? (smp ? 1L : 0L) : null,
            ["is_transaction"] = s is Transaction ? 1L : 0L,
        };
        if (s is Transaction t)
        {
            d["name"] = t.Name;
            d["source"] = t.Source;
            d["event_id"] = t.EventId;
            d["sample_rate"] = t.SampleRate?.ToString("R", CultureInfo.InvariantCulture);
            d["profile_id"] = (string?)t.Contexts["profile"]?["profile_id"];
            d["profiler_id"] = (string?)t.Contexts["profile"]?["profiler_id"];
            d["profiled"] = t.ProfileState is Profiling.Sessions.ProfileHandle ? 1L : 0L;
        }
        return d;
    }
}
