using System.Text;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Export;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tests.Sentry;

public sealed class SentryProfileExportTests
{
    private static readonly SdkInfo Sdk = new("sentry.perl", "0.1.0");
    private static readonly HostInfo Host = new("x86_64", "Linux", "6.1.0", "5.36.0");

    /// <summary>A realistic recent profile: 150 s at 101 Hz on one thread, some samples weighted.</summary>
    private static ProfileSnapshot LongProfile(out long start)
    {
        var store = new ProfileStore();
        store.NameThread(4242, "main");
        start = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 200_000) * 1_000_000;
        var t = start;
        for (var i = 0; i < 150 * 101; i++)
        {
            var w = i % 50 == 0 ? 5 : 1;
            store.Add([StoreFixtureFrames.Leaf(i % 3), StoreFixtureFrames.Work, StoreFixtureFrames.Main], 4242, t, w);
            t += w * 9_900_990L;
        }
        return store.Snapshot();
    }

    [Test]
    public void Chunks_Split60s_AndEachEnvelopePassesTheChecker()
    {
        var profilerId = Guid.NewGuid().ToString("N");
        var chunks = SentryChunkExporter.Export(LongProfile(out _), new SentryChunkExporter.Context(profilerId, Sdk, "app@1", "test"));
        Assert.That(chunks, Has.Count.EqualTo(3));
        var ids = new HashSet<string>();
        foreach (var c in chunks)
        {
            var bytes = Envelope.FromProfileChunk(c, Sdk).Serialize(DateTimeOffset.UtcNow);
            Assert.That(EnvelopeConformance.Check(bytes), Is.Empty);
            var j = JObject.Parse(c);
            Assert.That((string?)j["profiler_id"], Is.EqualTo(profilerId));
            Assert.That(ids.Add((string)j["chunk_id"]!), Is.True, "a fresh chunk_id per chunk");
            var ts = j["profile"]!["samples"]!.Select(s => (double)s["timestamp"]!).ToList();
            Assert.That(ts.Max() - ts.Min(), Is.LessThanOrEqualTo(60));
            Assert.That((string?)j["profile"]!["samples"]![0]!["thread_id"], Is.EqualTo("4242"));
        }
    }

    [Test]
    public void FramesDecidedAndWrittenOncePerFrame_StillFollowEachProfilersRules()
    {
        var store = PerlSentry.Engine.Tests.Profiling.StoreFixture.Make();
        var all = new InAppRules(["/usr/lib"]);
        var notMain = new InAppRules(["/usr/lib"], exclude: ["main"]);
        string InApp(InAppRules rules)
        {
            var snap = store.Snapshot().WithInApp(rules);
            var ctx = new SentryProfileV1Exporter.Context("p", "t", "r", "job", 0, 10_000, 7, Host);
            var frames = JObject.Parse(SentryProfileV1Exporter.Export(snap, ctx)!)["profile"]!["frames"]!;
            return string.Join(",", frames.Select(f => $"{f["function"]}={f["in_app"]}"));
        }
        var first = InApp(all);
        Assert.That(first, Is.EqualTo("main::fib=True,main::work=True,main=True,POSIX::nap=False"));
        Assert.That(InApp(notMain), Is.EqualTo("main::fib=False,main::work=False,main=False,POSIX::nap=False"), "the other profiler's rules, same frames");
        Assert.That(InApp(all), Is.EqualTo(first), "and the first rules again, from what was kept");
        var decided = all.Decide(store.Snapshot().Frames[0]);
        Assert.That(all.Decide(store.Snapshot().Frames[0]), Is.SameAs(decided), "one decided frame per frame");
    }

    [Test]
    public void V1_WithItsTransaction_PassesTheChecker_AndIsCutAt30s()
    {
        var snap = LongProfile(out var start);
        var ctx = new SentryProfileV1Exporter.Context(Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"),
            "GET /orders", start, start + 45_000_000_000L, 4242, Host, "app@1", "test");
        var profile = SentryProfileV1Exporter.Export(snap, ctx)!;
        var j = JObject.Parse(profile);
        Assert.That((string?)j["version"], Is.EqualTo("1"));
        Assert.That((string?)j["transaction"]!["relative_end_ns"], Is.EqualTo("30000000000"));
        Assert.That(j["profile"]!["samples"]!.Max(s => ulong.Parse((string)s["elapsed_since_start_ns"]!)), Is.LessThanOrEqualTo(30_000_000_000UL));
        var txn = new JObject
        {
            ["type"] = "transaction", ["event_id"] = ctx.TransactionId, ["transaction"] = ctx.TransactionName, ["platform"] = "perl",
            ["start_timestamp"] = start / 1e9, ["timestamp"] = (start + 45_000_000_000L) / 1e9,
            ["sdk"] = new JObject { ["name"] = Sdk.Name, ["version"] = Sdk.Version },
            ["contexts"] = new JObject { ["trace"] = new JObject { ["trace_id"] = ctx.TraceId, ["span_id"] = "b7ad6b7169203331", ["data"] = new JObject { ["thread.id"] = "4242" } } },
        }.ToString(Newtonsoft.Json.Formatting.None);
        var env = Envelope.FromItems(ctx.TransactionId, Sdk, [new EnvelopeItem("transaction", txn), new EnvelopeItem("profile", profile)]).Serialize(DateTimeOffset.UtcNow);
        Assert.That(EnvelopeConformance.Check(env), Is.Empty);
    }

    [Test]
    public void ASampleThatStandsForSeveralTicks_IsWrittenAsOnePerTick_AtTheTicksTimes_InBothFormats()
    {
        // a busy tick, then 30 ticks blocked in one call (one sample of weight 30), then a busy tick
        var store = new ProfileStore { Interval = TimeSpan.FromMilliseconds(10) };
        store.NameThread(7, "main");
        var start = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 10_000) * 1_000_000;
        store.Add([StoreFixtureFrames.Work, StoreFixtureFrames.Main], 7, start + 10_000_000, 1);
        store.Add([StoreFixtureFrames.Leaf(1), StoreFixtureFrames.Main], 7, start + 20_000_000, 30);
        store.Add([StoreFixtureFrames.Work, StoreFixtureFrames.Main], 7, start + 330_000_000, 1);
        var snap = store.Snapshot();

        var ctx = new SentryProfileV1Exporter.Context(Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"),
            "blocked", start, start + 400_000_000, 7, Host);
        var v1 = JObject.Parse(SentryProfileV1Exporter.Export(snap, ctx)!)["profile"]!;
        var v1Times = v1["samples"]!.Select(x => long.Parse((string)x["elapsed_since_start_ns"]!)).ToList();
        Assert.That(v1Times, Has.Count.EqualTo(32));
        Assert.That(v1Times.Skip(1).Take(30), Is.EqualTo(Enumerable.Range(0, 30).Select(k => 20_000_000L + k * 10_000_000L)));
        Assert.That(v1Times, Is.Ordered);
        Assert.That(v1["samples"]!.Skip(1).Take(30).Select(x => (int)x["stack_id"]!).Distinct().Count(), Is.EqualTo(1), "the blocked stack each time");

        var chunk = JObject.Parse(SentryChunkExporter.Export(snap, new SentryChunkExporter.Context("p", Sdk)).Single())["profile"]!;
        var v2Times = chunk["samples"]!.Select(x => (double)x["timestamp"]!).ToList();
        Assert.That(v2Times, Has.Count.EqualTo(32));
        Assert.That(v2Times[30] - v2Times[1], Is.EqualTo(0.29).Within(1e-6));

        // a transaction that ends while the call still blocks keeps only the ticks inside it
        var cut = ctx with { EndNs = start + 100_000_000 };
        Assert.That(JObject.Parse(SentryProfileV1Exporter.Export(snap, cut)!)["profile"]!["samples"]!.Count(), Is.EqualTo(1 + 9));
    }

    [Test]
    public void V1_UnderTwoSamples_IsNotProduced()
    {
        var store = new ProfileStore();
        store.Add([StoreFixtureFrames.Main], 1, 1_000, 1);
        var ctx = new SentryProfileV1Exporter.Context(Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"), "t", 0, 10_000, 1, Host);
        Assert.That(SentryProfileV1Exporter.Export(store.Snapshot(), ctx), Is.Null);
    }

    [Test]
    public void Envelope_LengthIsTheUtf8ByteCount()
    {
        var payload = "{\"k\":\"日本\"}";
        var bytes = Envelope.FromItems(null, Sdk, [new EnvelopeItem("event", payload)]).Serialize(DateTimeOffset.UtcNow);
        var lines = Encoding.UTF8.GetString(bytes).Split('\n');
        Assert.That((int)JObject.Parse(lines[1])["length"]!, Is.EqualTo(Encoding.UTF8.GetByteCount(payload)));
        Assert.That(Encoding.UTF8.GetString(bytes).Split("sent_at").Length, Is.EqualTo(2), "sent_at exactly once");
    }

    // The checker must be able to fail: each broken envelope trips its rule.
    [TestCase("\"version\":\"2\"", "\"version\":2", "3:")]
    [TestCase("\"thread_id\":\"4242\"", "\"thread_id\":4242", "7: thread_id")]
    [TestCase("\"stack_id\":0", "\"stack_id\":99", "8: stack_id")]
    [TestCase("\"in_app\":true", "\"in_app\":\"yes\"", "9: in_app")]
    [TestCase("\"lineno\":", "\"package\":\"x\",\"lineno\":", "9: unknown frame key package")]
    public void Checker_CatchesBrokenChunks(string from, string to, string rule)
    {
        var chunk = SentryChunkExporter.Export(LongProfile(out _), new SentryChunkExporter.Context(Guid.NewGuid().ToString("N"), Sdk))[0];
        var idx = chunk.IndexOf(from, StringComparison.Ordinal);
        Assert.That(idx, Is.GreaterThanOrEqualTo(0));
        var broken = chunk[..idx] + to + chunk[(idx + from.Length)..];
        var errors = EnvelopeConformance.Check(Envelope.FromProfileChunk(broken, Sdk).Serialize(DateTimeOffset.UtcNow));
        Assert.That(errors, Has.Some.StartWith(rule));
    }

    [Test]
    public void Checker_CatchesAWrongLength()
    {
        var bytes = Encoding.UTF8.GetBytes("{}\n{\"type\":\"profile_chunk\",\"length\":3}\n{}xx\n");
        Assert.That(EnvelopeConformance.Check(bytes), Has.Some.Contains("MissingNewline"));
    }

    [Test]
    public void Checker_CatchesAProfileWithoutTransaction()
    {
        var snap = LongProfile(out var start);
        var ctx = new SentryProfileV1Exporter.Context(Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"), Guid.NewGuid().ToString("N"), "t", start, start + 1_000_000_000, 4242, Host);
        var env = Envelope.FromItems(ctx.TransactionId, Sdk, [new EnvelopeItem("profile", SentryProfileV1Exporter.Export(snap, ctx)!)]).Serialize(DateTimeOffset.UtcNow);
        Assert.That(EnvelopeConformance.Check(env), Has.Some.StartWith("2: profile without exactly one transaction"));
    }
}

internal static class StoreFixtureFrames
{
    public static readonly ProfileFrame Main = new("main", "main", "app.pl", "/srv/app.pl", 9, true);
    public static readonly ProfileFrame Work = new("App::work", "App", "lib/App.pm", "/srv/lib/App.pm", 4, true);

    public static ProfileFrame Leaf(int i) => new($"App::leaf{i}", "App", "lib/App.pm", "/srv/lib/App.pm", 10 + i, i != 2);
}
