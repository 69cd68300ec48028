using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;
using PerlSentry.PerlBridge;
using static PerlSentry.Engine.PerlApi.PerlValues;

namespace PerlSentry.Engine.PerlApi;

/// <summary>The methods of <c>Sentry::Scope</c>, by name.</summary>
internal static class ScopeCalls
{
    public static object? Call(SentryBinding b, Scope s, string method, object?[] a)
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
                else s.Contexts[Text(A(0)) ?? ""] = ToJson(A(1));
                break;
            case "set_fingerprint":
                s.Fingerprint.Clear();
                s.Fingerprint.AddRange(A(0) is IEnumerable<object?> list ? list.Select(x => Text(x) ?? "") : [Text(A(0)) ?? ""]);
                break;
            case "set_transaction_name": s.TransactionName = Text(A(0)); break;
            case "set_span": s.Span = A(0) is null ? null : b.Handles.Get<Span>(A(0), "span"); break;
            case "get_span": return s.Span is null ? null : b.Handles.Add(s.Span);
            case "add_breadcrumb": s.AddBreadcrumb(ToJObject(A(0)), Timestamps.ToEpochSeconds(b.Hub.Clock.UnixNs)); break;
            case "clear_breadcrumbs": s.ClearBreadcrumbs(); break;
            case "clear": s.Clear(); break;
            case "clone": return b.Handles.Add(s.Clone());
            case "add_event_processor":
                if (A(0) is not PerlRef { Kind: PerlRefKind.Code } code)
                    throw new PerlException("add_event_processor needs a code reference (sub { my ($event) = @_; ...; $event })\n");
                s.AddEventProcessor(b.EventCallback(code));
                break;
            case "apply_to_event": return ToPerl(s.ApplyTo(ToJObject(A(0))));
            case "get": return Get(s, Text(A(0)));
            default: throw new PerlException($"Sentry::Scope has no method '{method}'\n");
        }
        return null;
    }

    private static object? Get(Scope s, string? field) => field switch
    {
        "tags" => s.Tags.ToDictionary(kv => kv.Key, kv => (object?)kv.Value),
        "extra" => ToPerl(s.Extra),
        "user" => ToPerl(s.User),
        "level" => s.Level,
        "contexts" => ToPerl(s.Contexts),
        "fingerprint" => s.Fingerprint.Cast<object?>().ToList(),
        "transaction_name" => s.TransactionName,
        "breadcrumbs" => s.Breadcrumbs.Select(c => ToPerl(c)).ToList(),
        _ => throw new PerlException($"Sentry::Scope has no field '{field}'\n"),
    };

    /// <summary>Sentry's levels; <c>warn</c> and <c>critical</c> as Perl and syslog people write them.</summary>
    public static string Level(string? level) => level?.ToLowerInvariant() switch
    {
        "fatal" or "critical" => "fatal",
        "error" => "error",
        "warning" or "warn" => "warning",
        "log" or "info" => level.ToLowerInvariant() == "log" ? "log" : "info",
        "debug" => "debug",
        _ => throw new PerlException($"level '{level}' is not one of fatal, error, warning, info, debug, log\n"),
    };
}
