using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Session;

/// <summary>
/// A session as it is at a fork, for the child to continue from (what the CPAN SDK's child gets by
/// copying memory): the options <c>init</c> was given, the scope stack with its handles, the spans
/// that were open (the child joins their traces and never finishes them), the continuous profiling
/// decision, and whether a manual profiling session ran. Code references are written as the tokens
/// the child's client knows them by.
/// </summary>
public static class SessionSnapshot
{
    private const int Version = 1;

    public static JObject Take(EngineSession s, Func<IPerlRef, long> tokenOf)
    {
        var hub = s.Hub;
        var snapshot = new JObject { ["v"] = Version };
        if (s.Given is { } given)
        {
            snapshot["options"] = new JObject(given.Select(kv => new JProperty(kv.Key, Value(kv.Value, tokenOf))));
            snapshot["env"] = new JObject(s.Environment.Select(kv => new JProperty(kv.Key, SessionValues.ToJson(kv.Value))));
        }
        var spans = new JArray();
        foreach (var (id, o) in s.Handles.All)
        {
            if (o is Span { IsFinished: false } span)
                spans.Add(SpanJson(id, span, s.Options));
        }
        snapshot["spans"] = spans;
        snapshot["scopes"] = new JArray(hub.Scopes.Select(scope => ScopeJson(s, scope, tokenOf)));
        if (hub.Decider.SessionDecision is { } sampled)
            snapshot["session_sampled"] = sampled;
        if (s.Profiling.Active is { Kind: ProfileKind.Continuous, IsActive: true } session && s.Profiling.Options.ProfileLifecycle == ProfileLifecycle.Manual)
            snapshot["continuous"] = session.Name;
        return snapshot;
    }

    /// <summary>Makes <paramref name="s"/> (new) continue from <paramref name="snapshot"/>; code references come back through <paramref name="refOf"/>.</summary>
    public static void Restore(EngineSession s, JObject snapshot, Func<long, IPerlRef> refOf)
    {
        if ((int?)snapshot["v"] != Version)
            throw new SessionCallException("the fork snapshot is of another version of PerlSentry");
        if (snapshot["options"] is JObject options)
        {
            var given = options.Properties().ToDictionary(p => p.Name, p => Restore(p.Value, refOf), StringComparer.Ordinal);
            var env = ((JObject?)snapshot["env"] ?? []).Properties().ToDictionary(p => p.Name, p => SessionValues.ToPerl(p.Value), StringComparer.Ordinal);
            s.Init(given, env);
        }
        if ((bool?)snapshot["session_sampled"] is { } sampled)
            s.Hub.Decider.InheritSessionDecision(sampled);
        var now = s.Hub.Clock.UnixNs;
        foreach (var span in (snapshot["spans"] as JArray ?? []).OfType<JObject>())
        {
            s.Handles.Put((long)span["id"]!, Transaction.Inherited((string)span["trace_id"]!, (string)span["span_id"]!,
                (string?)span["parent_span_id"], (bool?)span["sampled"], (string?)span["name"] ?? "", span["dsc"] as JObject, now));
        }
        var scopes = (snapshot["scopes"] as JArray ?? []).OfType<JObject>().ToList();
        for (var i = 0; i < scopes.Count; i++)
        {
            var scope = i == 0 ? s.Hub.CurrentScope : s.Hub.PushScope();
            var id = (long?)scopes[i]["id"];
            if (id is not null)
                s.Handles.Put(id.Value, scope);
            RestoreScope(s, scope, scopes[i], refOf);
        }
        if ((string?)snapshot["continuous"] is { } name)
            s.Profiling.StartManual(name, out _);
    }

    private static JObject SpanJson(long id, Span span, SentryOptions options) => new()
    {
        ["id"] = id,
        ["trace_id"] = span.TraceId,
        ["span_id"] = span.SpanId,
        ["parent_span_id"] = span.ParentSpanId,
        ["sampled"] = span.Sampled,
        ["name"] = span.Root.Name,
        ["dsc"] = span.Root.DynamicSamplingContext(options),
    };

    private static JObject ScopeJson(EngineSession s, Scope scope, Func<IPerlRef, long> tokenOf)
    {
        var o = new JObject
        {
            ["id"] = s.Handles.All.FirstOrDefault(kv => ReferenceEquals(kv.Value, scope)).Key is var id and not 0 ? id : null,
            ["tags"] = JsonTags.From(scope.Tags),
            ["extra"] = scope.Extra.DeepClone(),
            ["user"] = scope.User?.DeepClone(),
            ["level"] = scope.Level,
            ["contexts"] = scope.Contexts.DeepClone(),
            ["fingerprint"] = new JArray(scope.Fingerprint),
            ["transaction_name"] = scope.TransactionName,
            ["propagation"] = new JObject { ["trace_id"] = scope.Propagation.TraceId, ["span_id"] = scope.Propagation.SpanId },
            ["breadcrumbs"] = new JArray(scope.Breadcrumbs.Select(b => b.DeepClone())),
            ["processors"] = new JArray(scope.EventProcessors.Select(p => s.CodeOf(p)).OfType<IPerlRef>().Select(tokenOf)),
        };
        if (scope.Span is { } span && s.Handles.All.FirstOrDefault(kv => ReferenceEquals(kv.Value, span)).Key is var spanId and not 0)
            o["span"] = spanId;
        return o;
    }

    private static void RestoreScope(EngineSession s, Scope scope, JObject o, Func<long, IPerlRef> refOf)
    {
        foreach (var p in ((JObject?)o["tags"] ?? []).Properties())
            scope.Tags[p.Name] = (string?)p.Value ?? "";
        foreach (var p in ((JObject?)o["extra"] ?? []).Properties())
            scope.Extra[p.Name] = p.Value.DeepClone();
        scope.User = o["user"] as JObject;
        scope.Level = (string?)o["level"];
        foreach (var p in ((JObject?)o["contexts"] ?? []).Properties())
            scope.Contexts[p.Name] = p.Value.DeepClone();
        scope.Fingerprint.AddRange((o["fingerprint"] as JArray ?? []).Select(f => (string?)f ?? ""));
        scope.TransactionName = (string?)o["transaction_name"];
        if (o["propagation"] is JObject { } trace && (string?)trace["trace_id"] is { } traceId && (string?)trace["span_id"] is { } traceSpan)
            scope.Propagation = new PropagationContext(traceId, traceSpan);
        foreach (var b in (o["breadcrumbs"] as JArray ?? []).OfType<JObject>())
            scope.AddBreadcrumb(b, (double?)b["timestamp"] ?? 0);
        foreach (var token in (o["processors"] as JArray ?? []).Select(t => (long)t))
            scope.AddEventProcessor(s.EventCallback(refOf(token)));
        if ((long?)o["span"] is { } spanId)
            scope.Span = s.Handles.Find<Span>(spanId);
    }

    /// <summary>An option's value as JSON, code references as <c>{"$code": token}</c>.</summary>
    private static JToken Value(object? v, Func<IPerlRef, long> tokenOf) => v switch
    {
        IPerlRef { Kind: PerlRefKind.Code } code => new JObject { ["$code"] = tokenOf(code) },
        IEnumerable<object?> list when v is not string && v is not IDictionary<string, object?> => new JArray(list.Select(x => Value(x, tokenOf))),
        _ => SessionValues.ToJson(v),
    };

    private static object? Restore(JToken t, Func<long, IPerlRef> refOf) => t switch
    {
        JObject o when o.Count == 1 && o["$code"] is JValue token => refOf((long)token),
        JArray a => a.Select(x => Restore(x, refOf)).ToList(),
        _ => SessionValues.ToPerl(t),
    };
}
