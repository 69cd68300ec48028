using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;
using static PerlSentry.Engine.Session.SessionValues;

namespace PerlSentry.Engine.Session;

/// <summary>
/// The seam between the Perl modules and the engine: the <c>Sentry::Engine::</c> calls, by name, with
/// Perl values as the bridge or the agent's socket decodes them. The client names the objects it
/// creates, so every call that only changes state returns nothing the client must wait for; the
/// calls in <see cref="Waiting"/> return what the program needs at once.
/// </summary>
public static class SessionCalls
{
    /// <summary>Calls whose result the client needs (over a socket: it waits for the reply).</summary>
    public static readonly IReadOnlySet<string> Waiting = new HashSet<string>(StringComparer.Ordinal)
    {
        "init", "is_enabled", "flush", "close", "shutdown", "last_event_id", "scope_get", "span_get", "profiler_call", "snapshot",
    };

    /// <summary>
    /// Calls that are one-way unless user callbacks may run inside them (the client then waits, so the
    /// agent can ask it to run them): see <see cref="ClientHints"/>.
    /// </summary>
    public static readonly IReadOnlySet<string> WaitingWithCallbacks = new HashSet<string>(StringComparer.Ordinal)
    {
        "capture_event", "transaction_start", "transaction_finish",
    };

    /// <summary>Calls that change nothing a fork's child would continue from.</summary>
    private static readonly IReadOnlySet<string> ReadOnly = new HashSet<string>(StringComparer.Ordinal)
    {
        "available", "is_enabled", "last_event_id", "scope_get", "span_get", "snapshot", "log", "flush",
    };

    public static object? Call(EngineSession s, string name, object?[] a)
    {
        object? A(int i) => i < a.Length ? a[i] : null;
        if (!ReadOnly.Contains(name))
            s.Version++;
        switch (name)
        {
            case "available": return 1L;
            case "init":
                s.Init(Hash(A(0)), Hash(A(1)));
                return ClientHints(s.Options);
            case "is_enabled": return s.Hub.Client.IsEnabled ? 1L : 0L;
            case "flush": return s.Hub.Flush(Seconds(A(0), s.Options.ShutdownTimeout)) ? 1L : 0L;
            case "close":
                s.Hub.Close(Seconds(A(0), s.Options.ShutdownTimeout));
                return 1L;
            case "shutdown":
                s.Shutdown();
                return 1L;
            case "last_event_id": return s.Hub.LastEventId;
            case "capture_event": return s.Refuse("capture") ? null : s.CaptureEvent(A(0));
            case "add_breadcrumb":
                s.Hub.AddBreadcrumb(ToJObject(A(0)));
                return null;
            case "log":
                s.Log(Text(A(0)) ?? "");
                return null;
            case "release":
                s.Handles.Release(A(0));
                return null;
            case "scope_push":
                s.Handles.Put(A(0), s.Hub.PushScope());
                return null;
            case "scope_pop": return s.Hub.PopScope() ? 1L : 0L;
            case "scope_new":
                s.Handles.Put(A(0), new Scope(s.Options.MaxBreadcrumbs));
                return null;
            case "scope_set":
                return s.Handles.Find<Scope>(A(0)) is { } scope ? ScopeCalls.Set(s, scope, Text(A(1)) ?? "", a[2..]) : null;
            case "scope_get": return ScopeCalls.Get(s, s.Handles.Get<Scope>(A(0), "scope"), Text(A(1)) ?? "", a.Length > 2 ? a[2..] : []);
            case "transaction_start": return StartTransaction(s, A(0), Hash(A(1)), A(2), A(3), A(4));
            case "span_start":
                if (s.Handles.Find<Span>(A(1)) is { } parent)
                    s.Handles.Put(A(0), SpanCalls.StartChild(s, parent, Hash(A(2))));
                return null;
            case "span_set":
                return s.Handles.Find<Span>(A(0)) is { } span ? SpanCalls.Set(s, span, Text(A(1)) ?? "", a[2..]) : null;
            case "span_get": return SpanCalls.Get(s, s.Handles.Get<Span>(A(0), "span"), Text(A(1)) ?? "");
            case "transaction_finish": return FinishTransaction(s, A(0), A(1), A(2), A(3), Truthy(A(4)));
            case "profiler_call": return ProfilerCalls.Call(s, Text(A(0)) ?? "", a.Length > 1 ? a[1..] : []);
            case "snapshot": return s.Given is null ? null : SessionSnapshot.Take(s, s.TokenOf).ToString(Newtonsoft.Json.Formatting.None);
            default: throw new SessionCallException($"Sentry::Engine::{name} is not an engine call");
        }
    }

    /// <summary>
    /// A transaction; with <paramref name="scopeId"/>, also a request's scope (Plack::Middleware::Sentry:
    /// one call per request instead of six): pushed, with the transaction as its span, its name as the
    /// transaction name and <paramref name="request"/> as its request context. transaction_finish with
    /// the same scope id pops it.
    /// </summary>
    private static object? StartTransaction(EngineSession s, object? id, IReadOnlyDictionary<string, object?> ctx, object? custom,
        object? scopeId = null, object? request = null)
    {
        var tx = Begin(s, ctx, custom);
        s.Handles.Put(id, tx);
        if (scopeId is not null)
            s.Handles.Put(scopeId, PushRequestScope(s, tx, request));
        return tx.IsSampled ? 1L : 0L;
    }

    private static Transaction Begin(EngineSession s, IReadOnlyDictionary<string, object?> ctx, object? custom)
    {
        var context = SpanCalls.Context(ctx);
        return s.Refuse("start_transaction")
            ? s.Hub.StartTransaction(context with { Sampled = false })
            : s.Hub.StartTransaction(context, custom is null ? null : ToJObject(custom));
    }

    /// <summary>A request's scope, pushed: the transaction as its span, its name, the request as its request context.</summary>
    private static Scope PushRequestScope(EngineSession s, Transaction tx, object? request)
    {
        var scope = s.Hub.PushScope();
        scope.Span = tx;
        scope.TransactionName = tx.Name;
        if (request is not null)
            scope.Contexts["request"] = ToRawJson(request);
        return scope;
    }

    /// <summary>
    /// A request or call a .NET host runs (perl-sentry serve, the interpreter pool), begun by the host: what
    /// transaction_start with a scope id does for Plack::Middleware::Sentry, without Perl building the
    /// context and the request (the host has them). <paramref name="ctx"/> and <paramref name="request"/> are as
    /// transaction_start takes them. Perl gets the two engine ids and takes the transaction and the scope
    /// as its own (<c>Sentry::Hub::_enter_request</c>); <see cref="FinishRequest"/> ends them. Call it on
    /// the interpreter's thread from inside its Perl call (a C# sub the request's Perl code calls): the
    /// profile's markers sample the Perl stack there, and an idle interpreter's stack says nothing.
    /// </summary>
    public static HostedRequest StartRequest(EngineSession s, IReadOnlyDictionary<string, object?> ctx, object? request)
    {
        s.Version++;
        var tx = Begin(s, ctx, null);
        var scope = PushRequestScope(s, tx, request);
        return new HostedRequest(tx, scope, s.Handles.IdOf(tx), s.Handles.IdOf(scope));
    }

    /// <summary>
    /// Ends a request <see cref="StartRequest"/> began: the HTTP status (when the response got one) or
    /// <paramref name="status"/> set, the transaction finished (sent when sampled), the scope popped
    /// (with any the request pushed above it and left).
    /// </summary>
    public static void FinishRequest(EngineSession s, HostedRequest request, int? httpStatus, string? status = null)
    {
        s.Version++;
        try
        {
            var tx = request.Transaction;
            if (tx.IsFinished)
                return;   // the program finished it itself
            if (httpStatus is { } code)
                tx.SetHttpStatus(code);
            if (status is not null)
                tx.Status = status;
            if (!s.Refuse("finishing a transaction"))
                tx.Finish(s.Hub.Clock.UnixNs);
        }
        finally
        {
            s.Hub.PopScope(request.Scope);
        }
    }

    /// <summary>
    /// Finishes a span or transaction (with <paramref name="httpStatus"/> set first, when given). With
    /// <paramref name="scopeId"/>, the request's scope transaction_start pushed goes with it, whatever
    /// the finish did (its handle too when <paramref name="release"/>: Perl holds no object of it).
    /// </summary>
    private static object? FinishTransaction(EngineSession s, object? id, object? timestamp, object? httpStatus, object? scopeId, bool release)
    {
        try
        {
            if (s.Handles.Find<Span>(id) is not { } finishing)
                return 0L;
            if (Number(httpStatus) is { } code)
                finishing.SetHttpStatus((int)code);
            if (finishing is Transaction && s.Refuse("finishing a transaction"))
                return 0L;
            return finishing.Finish(Number(timestamp) is { } ts ? Timestamps.FromEpochSeconds(ts) : s.Hub.Clock.UnixNs) ? 1L : 0L;
        }
        finally
        {
            if (scopeId is not null)
            {
                s.Hub.PopScope();
                if (release)
                    s.Handles.Release(scopeId);
            }
        }
    }

    /// <summary>
    /// What <c>init</c> tells the client about its options: which calls may run user callbacks, or
    /// start the sampler, so the client must wait for them.
    /// </summary>
    public static Dictionary<string, object?> ClientHints(SentryOptions o) => new()
    {
        ["capture_event"] = o.BeforeSend is not null || o.SampleRate < 1.0 ? 1L : 0L,
        ["transaction_start"] = o.TracesSampler is not null || o.ProfilesSampler is not null || o.EnableProfiling ? 1L : 0L,
        ["transaction_finish"] = o.BeforeSendTransaction is not null ? 1L : 0L,
    };

    /// <summary>Hint bit: a transaction start may start profiling, and no sampler callback decides it: the client takes its sampler ahead instead of waiting.</summary>
    public const long HintTxStartAhead = 8;

    /// <summary>
    /// The hints as the session stands now (every reply carries them), the calls that must wait: 1
    /// capture_event, 2 transaction_start, 4 transaction_finish. A transaction start waits only when
    /// a sampler callback may run; when profiling may start with it under the profiler's current
    /// settings, <see cref="HintTxStartAhead"/> says so instead.
    /// </summary>
    public static long ClientHintBits(EngineSession s)
    {
        var o = s.Options;
        var processors = s.Hub.Scopes.Any(scope => scope.EventProcessors.Count > 0);
        var p = s.ProfilingOptions;
        var profilingMayStart = s.Hub.Client.IsEnabled && p.ProfileLifecycle == ProfileLifecycle.Trace
            && (p.TransactionProfiling || (p.ContinuousProfiling && s.Hub.Decider.SessionDecision != false));
        long bits = 0;
        if (o.BeforeSend is not null || o.SampleRate < 1.0 || processors)
            bits |= 1;
        if (o.TracesSampler is not null || p.ProfilesSampler is not null)
            bits |= 2;
        else if (profilingMayStart)
            bits |= HintTxStartAhead;
        if (o.BeforeSendTransaction is not null || processors)
            bits |= 4;
        return bits;
    }

    private static TimeSpan Seconds(object? v, double fallback) =>
        TimeSpan.FromSeconds(Math.Clamp(Number(v) ?? fallback, 0, 3600));
}
