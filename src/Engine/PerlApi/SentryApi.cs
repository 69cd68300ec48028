using System.Runtime.CompilerServices;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;
using PerlSentry.PerlBridge;
using static PerlSentry.Engine.PerlApi.PerlValues;

namespace PerlSentry.Engine.PerlApi;

/// <summary>
/// The subs under <c>Sentry::Engine::</c> that perl/lib/Sentry/*.pm are thin handles over: the hub,
/// scopes, transactions and spans, and profiling all live here, so a .NET host drives the same model.
/// </summary>
public static class SentryApi
{
    private static readonly ConditionalWeakTable<PerlInterpreter, SentryBinding> Bindings = [];

    /// <summary>The hub of an interpreter (its <c>Sentry::SDK-&gt;init</c> decides the options).</summary>
    public static Hub HubOf(PerlInterpreter perl) => Bindings.TryGetValue(perl, out var b) ? b.Hub : throw new InvalidOperationException("SentryApi is not installed in this interpreter");

    /// <summary>Stops profiles and flushes, as the SDK's END block does (for hosts that never run END).</summary>
    public static void Shutdown(PerlInterpreter perl)
    {
        if (Bindings.TryGetValue(perl, out var b))
            perl.Invoke(() => { b.Shutdown(); return 0; });
    }

    public static void Install(PerlInterpreter perl)
    {
        var b = Bindings.GetValue(perl, p => new SentryBinding(p));
        void Def(string name, Func<object?[], object?> body) => perl.DefineSub("Sentry::Engine::" + name, a =>
        {
            try
            {
                return body(a);
            }
            catch (CallbackAbortedException e) when (e.InnerException is PerlExitException exit)
            {
                throw exit;   // a callback called exit: the program ends now, as it asked
            }
        });
        static object? Arg(object?[] a, int i) => i < a.Length ? a[i] : null;

        Def("available", _ => 1L);
        Def("init", a => { b.Init(Hash(Arg(a, 0)), Hash(Arg(a, 1))); return 1L; });
        Def("is_enabled", _ => b.Hub.Client.IsEnabled ? 1L : 0L);
        Def("flush", a => b.Hub.Flush(Seconds(Arg(a, 0), b.Hub.Options.ShutdownTimeout)) ? 1L : 0L);
        Def("close", a => { b.Hub.Close(Seconds(Arg(a, 0), b.Hub.Options.ShutdownTimeout)); return 1L; });
        Def("shutdown", _ => { b.Shutdown(); return 1L; });
        Def("capture_event", a => b.Refuse("capture") ? null : b.Hub.CaptureEvent(b.MarkInApp(ToJObject(Arg(a, 0)))));
        Def("last_event_id", _ => b.Hub.LastEventId);
        Def("add_breadcrumb", a => { b.Hub.AddBreadcrumb(ToJObject(Arg(a, 0))); return null; });
        Def("log", a => { b.Log(Text(Arg(a, 0)) ?? ""); return null; });
        Def("release", a => { b.Handles.Release(Arg(a, 0)); return null; });

        Def("scope_current", _ => b.Handles.Add(b.Hub.CurrentScope));
        Def("scope_push", _ => b.Handles.Add(b.Hub.PushScope()));
        Def("scope_pop", _ => b.Hub.PopScope() ? 1L : 0L);
        Def("scope_depth", _ => (long)b.Hub.ScopeDepth);
        Def("scope_new", _ => b.Handles.Add(new Scope(b.Hub.Options.MaxBreadcrumbs)));
        Def("scope_call", a => ScopeCalls.Call(b, b.Handles.Get<Scope>(Arg(a, 0), "scope"), Text(Arg(a, 1)) ?? "", a.Skip(2).ToArray()));

        Def("transaction_start", a => b.Handles.Add(b.Refuse("start_transaction")
            ? b.Hub.StartTransaction(SpanCalls.Context(Hash(Arg(a, 0))) with { Sampled = false })
            : b.Hub.StartTransaction(SpanCalls.Context(Hash(Arg(a, 0))), Arg(a, 1) is null ? null : ToJObject(Arg(a, 1)))));
        Def("span_call", a => SpanCalls.Call(b, b.Handles.Get<Span>(Arg(a, 0), "span"), Text(Arg(a, 1)) ?? "", a.Skip(2).ToArray()));

        Def("profiler_call", a => ProfilerCalls.Call(b, Text(Arg(a, 0)) ?? "", a.Skip(1).ToArray()));
    }

    private static TimeSpan Seconds(object? v, double fallback) =>
        TimeSpan.FromSeconds(Math.Clamp(Number(v) ?? fallback, 0, 3600));
}
