using Newtonsoft.Json.Linq;
using NUnit.Framework;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Tests.Sentry.Transport;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Tests.Sentry;

[TestFixture]
public sealed class OptionsAndHubTests
{
    private static SentryOptions Read(Dictionary<string, object?> given, Dictionary<string, string>? env = null) =>
        OptionsReader.Read(given, k => env?.GetValueOrDefault(k));

    [Test]
    public void AClonedScope_SharesItsBreadcrumbsAndContexts_YetEachChangesOnlyItself()
    {
        var parent = new Scope(maxBreadcrumbs: 3);
        for (var n = 1; n <= 3; n++)
            parent.AddBreadcrumb(new JObject { ["message"] = $"p{n}" }, n);
        parent.Contexts["request"] = new JRaw("{\"method\":\"GET\"}");
        var child = parent.Clone();
        child.AddBreadcrumb(new JObject { ["message"] = "c4" }, 4);   // pushes out p1 in the child only
        child.Contexts["request"] = new JRaw("{\"method\":\"POST\"}");
        child.ClearBreadcrumbs();
        child.AddBreadcrumb(new JObject { ["message"] = "c5" }, 5);
        Assert.Multiple(() =>
        {
            Assert.That(parent.Breadcrumbs.Select(b => (string?)b["message"]), Is.EqualTo(new[] { "p1", "p2", "p3" }));
            Assert.That(child.Breadcrumbs.Select(b => (string?)b["message"]), Is.EqualTo(new[] { "c5" }));
            Assert.That(parent.RawBreadcrumbs, Has.Count.EqualTo(3));
            var evt = parent.ApplyTo(new JObject { ["type"] = "event" })!;
            Assert.That(RawJson.Expand(evt)["contexts"]!["request"]!["method"]!.ToString(), Is.EqualTo("GET"));
            Assert.That(evt["breadcrumbs"]!["values"]!.Count(), Is.EqualTo(3));
        });
    }

    [Test]
    public void Read_ExplicitOptionWinsOverEnvironment_WhichWinsOverDefault()
    {
        var env = new Dictionary<string, string> { ["SENTRY_DSN"] = "https://envkey@example.com/1", ["SENTRY_RELEASE"] = "env@1", ["SENTRY_TRACES_SAMPLE_RATE"] = "0.25", ["SENTRY_ENVIRONMENT"] = "staging" };
        var o = Read(new() { ["release"] = "given@2" }, env);
        Assert.Multiple(() =>
        {
            Assert.That(o.Dsn!.PublicKey, Is.EqualTo("envkey"));
            Assert.That(o.Release, Is.EqualTo("given@2"));
            Assert.That(o.TracesSampleRate, Is.EqualTo(0.25));
            Assert.That(o.Environment, Is.EqualTo("staging"));
            Assert.That(Read(new()).Environment, Is.EqualTo("production"));
            Assert.That(Read(new()).MaxBreadcrumbs, Is.EqualTo(100));
        });
    }

    [TestCase("dsn", "not a dsn", "option 'dsn'")]
    [TestCase("dsn", "https://example.com/1", "no public key")]
    [TestCase("traces_sample_rate", 1.5, "a number from 0 to 1")]
    [TestCase("profiles_sample_rate", "lots", "a number from 0 to 1")]
    [TestCase("profile_lifecycle", "always", "'trace' or 'manual'")]
    [TestCase("traces_sampler", "sub", "code reference")]
    [TestCase("max_profile_duration", 60, "at most 30")]
    public void Read_BadValue_NamesTheOptionAndWhatIsAllowed(string option, object value, string expected)
    {
        var e = Assert.Throws<SentryOptionsException>(() => Read(new() { [option] = value }))!;
        Assert.That(e.Message, Does.Contain(option).And.Contain(expected));
    }

    [Test]
    public void Read_ProfilingModes_TransactionProfilesWinOverContinuous()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Read(new() { ["profiles_sample_rate"] = 1.0, ["profile_session_sample_rate"] = 1.0 }).TransactionProfiling, Is.True);
            Assert.That(Read(new() { ["profiles_sample_rate"] = 1.0, ["profile_session_sample_rate"] = 1.0 }).ContinuousProfiling, Is.False);
            Assert.That(Read(new() { ["profile_session_sample_rate"] = 1.0 }).ContinuousProfiling, Is.True);
            Assert.That(Read(new() { ["enable_profiling"] = 1L }).ProfilesSampleRate, Is.EqualTo(0.01));
            Assert.That(Read(new() { ["enable_profiling"] = 0L, ["profiles_sample_rate"] = 1.0 }).TransactionProfiling, Is.False);
        });
    }

    private sealed class Recording : ITransport
    {
        public List<Envelope> Sent { get; } = [];
        public Task SendEnvelopeAsync(Envelope envelope, CancellationToken cancel = default) { Sent.Add(envelope); return Task.CompletedTask; }
        public Task<bool> FlushAsync(TimeSpan timeout) => Task.FromResult(true);
        public Task CloseAsync(TimeSpan timeout) => Task.CompletedTask;
        public void Dispose() { }
    }

    [Test]
    public void StartTransaction_Sampling_SamplerThenParentThenRate()
    {
        var o = new SentryOptions { TracesSampleRate = 0 };
        var hub = new Hub(o, new Recording());
        Assert.That(hub.StartTransaction(new TransactionContext()).IsSampled, Is.False);
        var parent = TraceHeaders.ParseTraceParent("0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1");
        var inherited = hub.StartTransaction(new TransactionContext { Parent = parent });
        Assert.That(inherited.IsSampled, Is.True);
        Assert.That(inherited.TraceId, Is.EqualTo("0af7651916cd43dd8448eb211c80319c"));
        Assert.That(inherited.ParentSpanId, Is.EqualTo("b7ad6b7169203331"));
        JObject? seen = null;
        hub = new Hub(o with { TracesSampler = ctx => { seen = ctx.Data; return 1.0; } }, new Recording());
        Assert.That(hub.StartTransaction(new TransactionContext { Name = "n", Op = "task" }, new JObject { ["custom"] = 1 }).IsSampled, Is.True);
        Assert.That((string?)seen!["transaction_context"]!["name"], Is.EqualTo("n"));
        Assert.That((int?)seen["custom"], Is.EqualTo(1));
    }

    [TestCase(null, 1.0, true, TestName = "ProfilingWithoutTracing_KeepsWhatItProfiles")]
    [TestCase(null, 0.0, false, TestName = "ProfilingWithoutTracing_DropsWhatItDoesNotProfile")]
    [TestCase(0.0, 1.0, false, TestName = "WithTracing_SentrysRuleStands_OnlySampledTransactionsAreProfiled")]
    public void StartTransaction_ProfilingConfiguredTracingNot_TheProfileDecisionDecidesBoth(double? tracesRate, double profilesRate, bool kept)
    {
        var o = OptionsReader.Read(new Dictionary<string, object?>
        {
            ["enable_profiling"] = 1L, ["profiles_sample_rate"] = profilesRate, ["traces_sample_rate"] = tracesRate,
        }, _ => null);
        var hub = new Hub(o, new Recording());
        for (var i = 0; i < 20; i++)
        {
            var tx = hub.StartTransaction(new TransactionContext { Name = "t" });
            Assert.That(tx.IsSampled, Is.EqualTo(kept));
            Assert.That(tx.ProfileDecision, Is.EqualTo(tracesRate is null ? kept : null), "the decision the profiler takes as made");
        }
        var half = new Hub(OptionsReader.Read(new Dictionary<string, object?> { ["profiles_sample_rate"] = 0.5 }, _ => null), new Recording());
        var decisions = Enumerable.Range(0, 400).Select(_ => half.StartTransaction(new TransactionContext()).ProfileDecision).ToList();
        Assert.That(decisions.Count(d => d == true), Is.InRange(120, 280), "the profile rate rolls for both");
        Assert.That(decisions, Has.None.Null);
    }

    [Test]
    public void Capture_ScopeProcessorsAndBeforeSend_DropsAreCounted()
    {
        var t = new Recording();
        var o = new SentryOptions { Release = "r@1", BeforeSend = e => (string?)e["message"]?["formatted"] == "drop me" ? null : e, MaxBreadcrumbs = 2 };
        var hub = new Hub(o, t);
        hub.CurrentScope.Tags["a"] = "1";
        for (var i = 0; i < 3; i++) hub.AddBreadcrumb(new JObject { ["message"] = $"c{i}" });
        Assert.That(hub.CaptureMessage("kept"), Is.Not.Null);
        Assert.That(hub.CaptureMessage("drop me"), Is.Null);
        hub.WithScope(s => s.AddEventProcessor(_ => null));
        hub.PushScope().AddEventProcessor(_ => null);
        Assert.That(hub.CaptureMessage("processed away"), Is.Null);
        hub.PopScope();
        var evt = JObject.Parse(t.Sent.Single().Items[0].Payload);
        Assert.Multiple(() =>
        {
            Assert.That((string?)evt["tags"]!["a"], Is.EqualTo("1"));
            Assert.That((string?)evt["release"], Is.EqualTo("r@1"));
            Assert.That(evt["breadcrumbs"]!["values"]!.Select(b => (string?)b["message"]), Is.EqualTo(new[] { "c1", "c2" }));
            Assert.That(hub.Client.Reports.Count(DiscardReason.BeforeSend, DataCategory.Error), Is.EqualTo(1));
            Assert.That(hub.Client.Reports.Count(DiscardReason.EventProcessor, DataCategory.Error), Is.EqualTo(1));
        });
    }

    [Test]
    public void Callbacks_SeePlainTrees_ThoughBreadcrumbsSpansAndContextsAreWrittenAhead()
    {
        var t = new Recording();
        JObject? seenEvent = null, seenTransaction = null;
        var o = new SentryOptions
        {
            TracesSampleRate = 1,
            BeforeSend = e => { seenEvent = (JObject)e.DeepClone(); return e; },
            BeforeSendTransaction = e => { seenTransaction = (JObject)e.DeepClone(); return e; },
        };
        var hub = new Hub(o, t) { ThreadId = "5" };
        hub.Client.SetDefaultContext("runtime", new JObject { ["name"] = "perl", ["version"] = "5.36.0" });
        hub.AddBreadcrumb(new JObject { ["message"] = "crumb", ["data"] = new JObject { ["when"] = "2026-11-30T08:00:00Z" } });
        hub.CaptureMessage("m");
        var tx = hub.StartTransaction(new TransactionContext { Name = "t" });
        tx.StartChild("db", "q", hub.Clock.UnixNs).Finish(hub.Clock.UnixNs);
        tx.Finish(hub.Clock.UnixNs);
        Assert.Multiple(() =>
        {
            // Indexable all the way down, and a date-like string stays the string it was.
            Assert.That((string?)seenEvent!["breadcrumbs"]!["values"]![0]!["data"]!["when"], Is.EqualTo("2026-11-30T08:00:00Z"));
            Assert.That((string?)seenEvent["contexts"]!["runtime"]!["name"], Is.EqualTo("perl"));
            Assert.That((string?)seenEvent["sdk"]!["name"], Is.EqualTo(SdkInfo.Default.Name));
            Assert.That((string?)seenTransaction!["spans"]![0]!["op"], Is.EqualTo("db"));
            Assert.That((string?)seenTransaction["spans"]![0]!["data"]!["thread.id"], Is.EqualTo("5"));
            // What is sent is the same either way.
            Assert.That(JToken.DeepEquals(RawJson.Parse(new JRaw(t.Sent[0].Items[0].Payload))["breadcrumbs"], seenEvent["breadcrumbs"]));
            Assert.That(JToken.DeepEquals(JObject.Parse(t.Sent[1].Items[0].Payload)["spans"], seenTransaction["spans"]));
        });
    }

    [Test]
    public void FinishedTransaction_CarriesFinishedSpansThreadDataAndDsc()
    {
        var t = new Recording();
        var hub = new Hub(new SentryOptions { TracesSampleRate = 1, Dsn = Dsn.Parse("https://pk@example.com/9") }, t) { ThreadId = "77" };
        var tx = hub.StartTransaction(new TransactionContext { Name = "GET /x", Op = "http.server", Source = "route" });
        tx.StartChild("db", "q", hub.Clock.UnixNs).Finish(hub.Clock.UnixNs);
        tx.StartChild("never", "finished", hub.Clock.UnixNs);
        tx.SetHttpStatus(404);
        tx.Finish(hub.Clock.UnixNs);
        var env = t.Sent.Single();
        var payload = env.Serialize(DateTimeOffset.UtcNow);
        Assert.That(EnvelopeConformance.Check(payload), Is.Empty);
        var evt = JObject.Parse(env.Items[0].Payload);
        Assert.Multiple(() =>
        {
            Assert.That(evt["spans"]!.Count(), Is.EqualTo(1));
            Assert.That((string?)evt["contexts"]!["trace"]!["status"], Is.EqualTo("not_found"));
            Assert.That((string?)evt["contexts"]!["trace"]!["data"]!["thread.id"], Is.EqualTo("77"));
            Assert.That((string?)env.Header["trace"]!["public_key"], Is.EqualTo("pk"));
            Assert.That((string?)env.Header["trace"]!["transaction"], Is.EqualTo("GET /x"));
            Assert.That(tx.ToTraceParent(), Is.EqualTo($"{tx.TraceId}-{tx.SpanId}-1"));
        });
    }

    [TestCase("https://pk@o1.ingest.sentry.io/42", "https://o1.ingest.sentry.io/api/42/envelope/")]
    [TestCase("http://pk:secret@localhost:9000/sub/path/7", "http://localhost:9000/sub/path/api/7/envelope/")]
    public void Dsn_EnvelopeUri(string dsn, string uri) => Assert.That(Dsn.Parse(dsn).EnvelopeUri.ToString(), Is.EqualTo(uri));
}
