using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;
using PerlSentry.PerlBridge;
using static PerlSentry.Engine.Session.SessionValues;

namespace PerlSentry.Engine.Session;

/// <summary>The methods of <c>Sentry::Scope</c>: setters (one-way) and readers, by name.</summary>
internal static class ScopeCalls
{
    public static object? Set(EngineSession session, Scope s, string method, object?[] a)
    {
        object? A(int i) => i < a.Length ? a[i] : null;
        switch (method)
        {
            case "set_tag": s.Tags[Text(A(0)) ?? ""] = Text(A(1)) ?? ""; break;
            case "set_tags":
                foreach (var (k, v) in Hash(A(0))) s.Tags[k] = Text(v) ?? "";
                break;
            case "remove_tag": s.Tags.Remove(Text(A(0)) ?? ""); break;
            case "set_extra": s.Extra[Text(A(0)) ?? ""] = ToJson(A(1)); break;
            case "set_extras":
                foreach (var (k, v) in Hash(A(0))) s.Extra[k] = ToJson(v);
                break;
            case "set_user": s.User = A(0) is null ? null : ToJObject(A(0)); break;
            case "set_level": s.Level = Level(Text(A(0))); break;
            case "set_context":
                if (A(1) is null) s.Contexts.Remove(Text(A(0)) ?? "");
                else s.Contexts[Text(A(0)) ?? ""] = ToRawJson(A(1));   // written once: clones and captures copy the text
                break;
            case "set_fingerprint":
                s.Fingerprint.Clear();
                s.Fingerprint.AddRange(A(0) is IEnumerable<object?> list ? list.Select(x => Text(x) ?? "") : [Text(A(0)) ?? ""]);
                break;
            case "set_transaction_name": s.TransactionName = Text(A(0)); break;
            case "set_span": s.Span = A(0) is null ? null : session.Handles.Find<Span>(A(0)); break;
            case "add_breadcrumb": s.AddBreadcrumb(ToJObject(A(0)), Timestamps.ToEpochSeconds(session.Hub.Clock.UnixNs)); break;
            case "clear_breadcrumbs": s.ClearBreadcrumbs(); break;
            case "clear": s.Clear(); break;
            case "clone": session.Handles.Put(A(0), s.Clone()); break;
            case "add_event_processor":
                if (A(0) is not IPerlRef { Kind: PerlRefKind.Code } code)
                    throw new SessionCallException("add_event_processor needs a code reference (sub { my ($event) = @_; ...; $event })");
                s.AddEventProcessor(session.EventCallback(code));
                break;
            default: throw new SessionCallException($"Sentry::Scope has no method '{method}'");
        }
        return null;
    }

    public static object? Get(EngineSession session, Scope s, string method, object?[] a)
    {
        object? A(int i) => i < a.Length ? a[i] : null;
        return method switch
        {
            "get_span" => s.Span is null ? null : SpanCalls.HandleOf(session, s.Span),
            "apply_to_event" => ToPerl(s.ApplyTo(ToJObject(A(0)))),
            "tags" => s.Tags.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
            "extra" => ToPerl(s.Extra),
            "user" => ToPerl(s.User),
            "level" => s.Level,
            "contexts" => ToPerl(s.Contexts),
            "fingerprint" => s.Fingerprint.Cast<object?>().ToList(),
            "transaction_name" => s.TransactionName,
            "breadcrumbs" => s.Breadcrumbs.Select(c => ToPerl(c)).ToList(),
            // the headers an outgoing request carries: the active span's trace, else the scope's propagation context
            "traceparent" => s.Span?.ToTraceParent() ?? TraceHeaders.FormatTraceParent(s.Propagation.TraceId, s.Propagation.SpanId, null),
            "baggage" => TraceHeaders.FormatBaggage(s.DynamicSamplingContext(session.Options)),
            _ => throw new SessionCallException($"Sentry::Scope has no field '{method}'"),
        };
    }

    /// <summary>Sentry's levels; <c>warn</c> and <c>critical</c> as Perl and syslog people write them.</summary>
    public static string Level(string? level) => level?.ToLowerInvariant() switch
    {
        "fatal" or "critical" => "fatal",
        "error" => "error",
        "warning" or "warn" => "warning",
        "log" => "log",
        "info" => "info",
        "debug" => "debug",
        _ => throw new SessionCallException($"level '{level}' is not one of fatal, error, warning, info, debug, log"),
    };
}
