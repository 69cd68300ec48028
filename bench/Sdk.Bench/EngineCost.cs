using System.Diagnostics;
using System.Globalization;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Session;

namespace PerlSentry.Bench;

/// <summary>The engine's share of a call's cost, without Perl: the seam's calls on a session with the defaults and a DSN.</summary>
internal static class EngineCost
{
    private static string Cpu(int n, Action body)
    {
        for (var i = 0; i < 500; i++) body();
        var t = new List<double>();
        var b0 = GC.GetAllocatedBytesForCurrentThread();
        for (var r = 0; r < 5; r++)
        {
            var c0 = ThreadCpu.Ns();
            for (var i = 0; i < n; i++) body();
            t.Add((ThreadCpu.Ns() - c0) / 1000.0 / n);
        }
        var bytes = (GC.GetAllocatedBytesForCurrentThread() - b0) / (5 * n);
        return string.Create(CultureInfo.InvariantCulture, $"{t.Order().ElementAt(2):0.00} µs, {bytes:N0} B");
    }

    private static void Parts(string cache)
    {
        Console.WriteLine($"| part: JObject with 10 properties | {Cpu(5000, () => { var o = new Newtonsoft.Json.Linq.JObject(); for (var i = 0; i < 10; i++) o["k" + i] = "v"; })} |");
        var ten = new Newtonsoft.Json.Linq.JObject(); for (var i = 0; i < 10; i++) ten["k" + i] = "v";
        Console.WriteLine($"| part: JObject(10) ??= sets | {Cpu(5000, () => { for (var i = 0; i < 10; i++) ten["k" + i] ??= "w"; })} |");
        Console.WriteLine($"| part: JObject(10) DeepClone | {Cpu(5000, () => ten.DeepClone())} |");
        var dict = new Dictionary<string, object?> { ["level"] = "info", ["message"] = new Dictionary<string, object?> { ["formatted"] = "bench" }, ["event_id"] = SentryIds.NewEventId() };
        Console.WriteLine($"| part: ToJObject | {Cpu(5000, () => SessionValues.ToJObject(dict))} |");
        var hub = new Hub(new SentryOptions(), null);
        hub.Client.SetDefaultContext("runtime", new Newtonsoft.Json.Linq.JObject { ["name"] = "perl", ["version"] = "5.36.0" });
        Console.WriteLine($"| part: Hub.CaptureEvent without a transport | {Cpu(5000, () => hub.CaptureEvent(SessionValues.ToJObject(dict), owned: true))} |");
        var evt = new Newtonsoft.Json.Linq.JObject { ["event_id"] = SentryIds.NewEventId(), ["message"] = "x", ["level"] = "info", ["platform"] = "perl", ["timestamp"] = 1.5 };
        var env = Envelope.FromItems(SentryIds.NewEventId(), SdkInfo.Default, [new EnvelopeItem("event", evt.ToString(Newtonsoft.Json.Formatting.None))]);
        Console.WriteLine($"| part: event ToString | {Cpu(5000, () => evt.ToString(Newtonsoft.Json.Formatting.None))} |");
        Console.WriteLine($"| part: SerializedEnvelope.From | {Cpu(5000, () => PerlSentry.Engine.Sentry.Transport.SerializedEnvelope.From(env))} |");
        var txHub = new Hub(new SentryOptions { TracesSampleRate = 1 }, null) { ThreadId = "1" };
        txHub.Client.SetDefaultContext("runtime", new Newtonsoft.Json.Linq.JObject { ["name"] = "perl", ["version"] = "5.36.0" });
        var ftx = txHub.StartTransaction(new PerlSentry.Engine.Tracing.TransactionContext { Name = "bench", Op = "task" });
        for (var i = 0; i < 3; i++) ftx.StartChild("op", null, txHub.Clock.UnixNs).Finish(txHub.Clock.UnixNs);
        ftx.Finish(txHub.Clock.UnixNs);
        var dclient = new DirectEvent.Client(txHub.Options, new Dictionary<string, Newtonsoft.Json.Linq.JRaw> { ["runtime"] = new("{\"name\":\"perl\"}") },
            new("{\"name\":\"x\"}"), new PerlSentry.Engine.Profiling.InAppRules([]));
        Console.WriteLine($"| part: tx WriteTransaction | {Cpu(5000, () => DirectEvent.WriteTransaction(ftx, txHub.CurrentScope, dclient))} |");
        Console.WriteLine($"| part: tx DynamicSamplingContext | {Cpu(5000, () => ftx.DynamicSamplingContext(txHub.Options))} |");
        var txPayload = DirectEvent.WriteTransaction(ftx, txHub.CurrentScope, dclient);
        var sdkRaw = new Newtonsoft.Json.Linq.JRaw("{\"name\":\"x\"}");
        Console.WriteLine($"| part: tx OfEvent | {Cpu(5000, () => PerlSentry.Engine.Sentry.Transport.SerializedEnvelope.OfEvent(ftx.EventId, sdkRaw, [new EnvelopeItem("transaction", txPayload)], ftx.DynamicSamplingContext(txHub.Options)))} |");
        Console.WriteLine($"| part: tx start+3 spans+finish, no transport | {Cpu(2000, () => { var t = txHub.StartTransaction(new PerlSentry.Engine.Tracing.TransactionContext { Name = "b", Op = "task" }); for (var i = 0; i < 3; i++) t.StartChild("op", null, 0).Finish(0); t.Finish(0); })} |");
        var ser = PerlSentry.Engine.Sentry.Transport.SerializedEnvelope.From(env);
        using var journal = new PerlSentry.Engine.Sentry.Transport.EnvelopeJournal(Path.Combine(cache, "parts"), 1_000_000);
        Console.WriteLine($"| part: journal Add | {Cpu(5000, () => journal.Add(ser))} |");
    }

    public static void Run()
    {
        using var receiver = new Receiver();
        var cache = Directory.CreateTempSubdirectory("perlsentry-engine-").FullName;
        using var session = new EngineSession(new SessionHost(() => throw new InvalidOperationException("no sampler"), SystemClock.Instance,
            HostInfo.Current("5.36.0"), "1", "main", ["/usr/share/perl/5.36"], _ => { }));
        session.Init(new Dictionary<string, object?> { ["dsn"] = receiver.Dsn, ["cache_dir"] = cache, ["traces_sample_rate"] = 1.0 },
            new Dictionary<string, object?>());
        long id = 100;
        (double Us, long Bytes) Time(int n, Action body)
        {
            for (var i = 0; i < 200; i++) body();
            session.Hub.Flush(TimeSpan.FromSeconds(30));
            var t = new List<double>();
            var bytes = long.MaxValue;
            for (var r = 0; r < 5; r++)
            {
                var cpu0 = ThreadCpu.Ns();
                var b0 = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < n; i++) body();
                t.Add((ThreadCpu.Ns() - cpu0) / 1000.0 / n);
                bytes = Math.Min(bytes, (GC.GetAllocatedBytesForCurrentThread() - b0) / n);
                session.Hub.Flush(TimeSpan.FromSeconds(30));
            }
            return (t.Order().ElementAt(2), bytes);
        }
        var capture = Time(2000, () => SessionCalls.Call(session, "capture_event", [new Dictionary<string, object?>
        {
            ["level"] = "info", ["message"] = new Dictionary<string, object?> { ["formatted"] = "bench" },
            ["event_id"] = SentryIds.NewEventId(),
        }]));
        // A transaction with 3 spans as the Perl modules make one; unfinished, it shows what finishing costs.
        void Transaction(bool finish)
        {
            var t = ++id;
            SessionCalls.Call(session, "transaction_start", [t, new Dictionary<string, object?> { ["name"] = "bench", ["op"] = "task", ["sampled"] = 1L }, null]);
            for (var i = 0; i < 3; i++)
            {
                var s = ++id;
                SessionCalls.Call(session, "span_start", [s, t, new Dictionary<string, object?> { ["op"] = "op" }]);
                SessionCalls.Call(session, "span_set", [s, "finish"]);
                SessionCalls.Call(session, "release", [s]);
            }
            if (finish)
                SessionCalls.Call(session, "transaction_finish", [t, null]);
            SessionCalls.Call(session, "release", [t]);
        }
        var tx = Time(2000, () => Transaction(finish: true));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| the engine's part of `capture_message` (no Perl; CPU of the calling thread, bytes it allocated) | {capture.Us:0.0} µs, {capture.Bytes:N0} B |"));
        if (Environment.GetEnvironmentVariable("ENGINE_PARTS") == "1")
            Parts(cache);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| the engine's part of a transaction with 3 spans (no Perl; the same) | {tx.Us:0.0} µs, {tx.Bytes:N0} B |"));
        if (Environment.GetEnvironmentVariable("ENGINE_PARTS") == "1")
        {
            var open = Time(200, () => Transaction(finish: false));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| part: the same, never finished | {open.Us:0.0} µs, {open.Bytes:N0} B |"));
        }
        Directory.Delete(cache, true);
    }
}
