using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Session;

namespace PerlSentry.Engine.Tests.Session;

/// <summary>
/// One session per interpreter, driven through the seam (<see cref="SessionCalls"/>) as the Perl
/// modules drive it, over a sampler with no interpreter: settings, decisions, handles, profiles.
/// </summary>
[TestFixture]
public sealed class EngineSessionTests
{
    private FakeSampler _sampler = null!;
    private RecordingTransport _transport = null!;
    private List<string> _warnings = null!;
    private EngineSession _session = null!;

    [SetUp]
    public void SetUp()
    {
        _sampler = new FakeSampler();
        _transport = new RecordingTransport();
        _warnings = [];
        _session = new EngineSession(new SessionHost(() => _sampler, _sampler, new HostInfo("x86_64", "Linux", "6.1", "5.36.0"),
            "42", "main", ["/usr/lib"], _warnings.Add)
        {
            Transports = (_, _, _, _) => (_transport, new ClientReports()),
        });
    }

    [TearDown]
    public void TearDown()
    {
        _session.Dispose();
        _transport.Dispose();
    }

    private object? Call(string name, params object?[] args) => SessionCalls.Call(_session, name, args);

    private void Init(params (string Key, object? Value)[] options) =>
        Call("init", options.ToDictionary(o => o.Key, o => o.Value), new Dictionary<string, object?>());

    private static Dictionary<string, object?> Hash(params (string Key, object? Value)[] pairs) => pairs.ToDictionary(p => p.Key, p => p.Value);

    private List<JObject> Payloads(string type) => [.. _transport.Items(type).Select(i => JObject.Parse(i.Payload))];

    [Test]
    public void Init_BadOption_ThrowsNamingIt_AndKeepsTheOldSettings()
    {
        Init(("release", "a@1"));
        var e = Assert.Throws<SessionCallException>(() => Init(("traces_sample_rate", 2L)));
        Assert.That(e!.Message, Does.Contain("traces_sample_rate").And.Contain("0 to 1"));
        Assert.That(_session.Options.Release, Is.EqualTo("a@1"));
    }

    [Test]
    public void Init_TellsTheClientWhichCallsMayRunCallbacks()
    {
        var hints = (Dictionary<string, object?>)Call("init", Hash(("before_send", new FakeCode(a => a[0]))), new Dictionary<string, object?>())!;
        Assert.That(hints["capture_event"], Is.EqualTo(1L));
        Assert.That(hints["transaction_start"], Is.EqualTo(0L));
        hints = (Dictionary<string, object?>)Call("init", Hash(("profiles_sample_rate", 1.0)), new Dictionary<string, object?>())!;
        Assert.That(hints["capture_event"], Is.EqualTo(0L));
        Assert.That(hints["transaction_start"], Is.EqualTo(1L), "a profiled transaction starts the sampler in the client");
    }

    [Test]
    public void ClientNamedHandles_ScopesSpansAndTransactions()
    {
        Init(("traces_sample_rate", 1.0));
        Call("scope_set", EngineSession.RootScopeId, "set_tag", "root", "1");
        Call("scope_push", 7L);
        Call("scope_set", 7L, "set_tag", "inner", "2");
        Assert.That((Dictionary<string, object?>)Call("scope_get", 7L, "tags")!, Does.ContainKey("root").And.ContainKey("inner"));
        Call("transaction_start", 8L, Hash(("name", "job"), ("op", "task")), null);
        Call("span_start", 9L, 8L, Hash(("op", "db"), ("description", "SELECT 1")));
        Call("span_set", 9L, "set_data", "rows", 3L);
        Call("span_set", 9L, "finish");
        Call("scope_set", 7L, "set_span", 8L);
        Assert.That(Call("scope_get", 7L, "get_span"), Is.EqualTo(new object?[] { 8L, 1L }), "the client's own id comes back");
        Assert.That(Call("span_get", 9L, "transaction"), Is.EqualTo(new object?[] { 8L, 1L }));
        Call("transaction_finish", 8L, null);
        Call("scope_pop");
        Call("release", 9L);
        var tx = Payloads("transaction").Single();
        Assert.That((string?)tx["transaction"], Is.EqualTo("job"));
        Assert.That(tx["spans"]!.Single()["data"]!["rows"]!.Value<long>(), Is.EqualTo(3));
        Assert.That(tx["tags"]!["inner"], Is.Not.Null, "the scope the transaction finished under");
        Assert.Throws<SessionCallException>(() => Call("span_get", 9L, "get"), "a released handle is gone");
        Assert.That(Call("span_set", 99L, "set_tag", "a", "b"), Is.Null, "a one-way call on an unknown handle is ignored");
    }

    [Test]
    public void RequestTransaction_OneCallEachWay_PushesItsScopeAndPopsIt()
    {
        Init(("traces_sample_rate", 1.0));
        var request = Hash(("method", "GET"), ("url", "http://x/orders"), ("headers", Hash(("HOST", "x"))));
        Call("transaction_start", 8L, Hash(("name", "GET /orders"), ("op", "http.server")), null, 7L, request);
        Assert.That(Call("scope_get", 7L, "get_span"), Is.EqualTo(new object?[] { 8L, 1L }), "the request's scope has the transaction");
        Assert.That(Call("scope_get", 7L, "transaction_name"), Is.EqualTo("GET /orders"));
        Call("capture_event", Hash(("message", Hash(("formatted", "inside")))));
        Call("transaction_finish", 8L, null, 404L, 7L, 1L);
        Call("capture_event", Hash(("message", Hash(("formatted", "after")))));
        var tx = Payloads("transaction").Single();
        Assert.That((string?)tx["contexts"]!["request"]!["url"], Is.EqualTo("http://x/orders"));
        Assert.That((long?)tx["contexts"]!["trace"]!["data"]!["http.response.status_code"], Is.EqualTo(404));
        Assert.That((string?)tx["contexts"]!["trace"]!["status"], Is.EqualTo("not_found"));
        var events = Payloads("event").ToList();
        Assert.That((string?)events[0]["transaction"], Is.EqualTo("GET /orders"), "an event inside the request");
        Assert.That((string?)events[0]["contexts"]!["request"]!["method"], Is.EqualTo("GET"));
        Assert.That(events[1]["transaction"], Is.Null, "the scope went with the transaction");
        Assert.Throws<SessionCallException>(() => Call("scope_get", 7L, "tags"), "and its handle was released");
    }

    [Test]
    public void RequestBegunByTheHost_PerlReachesItsTransactionAndScopeByTheirIds_FinishPopsItWithWhatTheRequestLeft()
    {
        Init(("traces_sample_rate", 1.0));
        var request = SessionCalls.StartRequest(_session,
            Hash(("name", "GET /orders"), ("op", "http.server"), ("source", "url"),
                 ("sentry_trace", "0123456789abcdef0123456789abcdef-0123456789abcdef-1"), ("baggage", null)),
            Hash(("method", "GET"), ("url", "http://x/orders"), ("headers", Hash(("HOST", "x")))));
        Assert.That(new[] { request.TransactionId, request.ScopeId }, Is.All.LessThan(0L), "engine ids");
        Assert.That(Call("scope_get", request.ScopeId, "get_span"), Is.EqualTo(new object?[] { request.TransactionId, 1L }));
        Call("scope_set", request.ScopeId, "set_tag", "route", "orders");
        Call("capture_event", Hash(("message", Hash(("formatted", "inside")))));
        Call("scope_push", 9L);   // a scope the request pushed and never popped
        Call("release", request.TransactionId);   // Perl's handle went before the host finished
        SessionCalls.FinishRequest(_session, request, 201);
        Call("capture_event", Hash(("message", Hash(("formatted", "after")))));
        var tx = Payloads("transaction").Single();
        Assert.Multiple(() =>
        {
            Assert.That((string?)tx["transaction"], Is.EqualTo("GET /orders"));
            Assert.That((string?)tx["contexts"]!["trace"]!["trace_id"], Is.EqualTo("0123456789abcdef0123456789abcdef"), "continues the incoming trace");
            Assert.That((string?)tx["contexts"]!["trace"]!["status"], Is.EqualTo("ok"));
            Assert.That((string?)tx["tags"]!["http.status_code"], Is.EqualTo("201"));
            Assert.That((string?)tx["contexts"]!["request"]!["url"], Is.EqualTo("http://x/orders"));
            var events = Payloads("event");
            Assert.That((string?)events[0]["tags"]!["route"], Is.EqualTo("orders"));
            Assert.That((string?)events[0]["contexts"]!["request"]!["method"], Is.EqualTo("GET"));
            Assert.That(events[1]["transaction"], Is.Null, "the request's scope and the one it left are gone");
            Assert.That(events[1]["tags"]?["route"], Is.Null);
            Assert.That(_session.Hub.ScopeDepth, Is.EqualTo(1));
        });
    }

    [Test]
    public void RequestBegunByTheHost_FinishedByTheProgram_IsSentOnce_AndAStatusWithoutHttpIsKept()
    {
        Init(("traces_sample_rate", 1.0));
        var first = SessionCalls.StartRequest(_session, Hash(("name", "GET /a")), null);
        Call("transaction_finish", first.TransactionId, null);
        SessionCalls.FinishRequest(_session, first, 200);
        var second = SessionCalls.StartRequest(_session, Hash(("name", "GET /b")), null);
        SessionCalls.FinishRequest(_session, second, null, "cancelled");
        var txs = Payloads("transaction");
        Assert.That(txs.Select(t => (string?)t["transaction"]), Is.EqualTo(new[] { "GET /a", "GET /b" }));
        Assert.That((string?)txs[1]["contexts"]!["trace"]!["status"], Is.EqualTo("cancelled"));
        Assert.That(_session.Hub.ScopeDepth, Is.EqualTo(1));
    }

    [Test]
    public void TransactionProfile_MarkersAtStartAndFinish_SamplerReleased_InAppFromTheOptions()
    {
        Init(("traces_sample_rate", 1.0), ("profiles_sample_rate", 1.0), ("in_app_exclude", new List<object?> { "main" }));
        _sampler.Stack = [FakeSampler.Lib, FakeSampler.Work, FakeSampler.Main];
        Call("transaction_start", 5L, Hash(("name", "profiled")), null);
        Assert.That((_sampler.Users, _sampler.Marks), Is.EqualTo((1, 1)));
        _sampler.Advance(TimeSpan.FromMilliseconds(55));
        Call("transaction_finish", 5L, null);
        Assert.That((_sampler.Users, _sampler.Marks), Is.EqualTo((0, 2)));
        var profile = Payloads("profile").Single();
        var tx = Payloads("transaction").Single();
        Assert.That((string?)tx["contexts"]!["profile"]!["profile_id"], Is.EqualTo((string?)profile["event_id"]));
        Assert.That(profile["profile"]!["samples"]!.Count(), Is.EqualTo(7), "start marker, 5 ticks, finish marker");
        Assert.That(profile["profile"]!["frames"]!.Select(f => (bool)f["in_app"]!), Is.All.False, "main excluded by in_app_exclude");
    }

    [Test]
    public void StandaloneProfilerMadeBeforeInit_DoesNotDecideInAppForTheSdk()
    {
        // Reproduced before: Sentry::Profiling->new(...) first, then init({ in_app_exclude => ['main'] }) gave in_app: true.
        Call("profiler_call", "new", 3L, Hash(("enable_profiling", 1L), ("profiles_sample_rate", 1.0)));
        Init(("traces_sample_rate", 1.0), ("profiles_sample_rate", 1.0), ("in_app_exclude", new List<object?> { "main" }));
        Call("transaction_start", 5L, Hash(("name", "t")), null);
        _sampler.Advance(TimeSpan.FromMilliseconds(30));
        Call("transaction_finish", 5L, null);
        var frames = Payloads("profile").Single()["profile"]!["frames"]!;
        Assert.That(frames.Where(f => (string?)f["module"] == "main").Select(f => (bool)f["in_app"]!), Is.Not.Empty.And.All.False);
    }

    [Test]
    public void ManualProfile_InTransactionMode_TravelsInItsOwnTransaction()
    {
        Init(("profiles_sample_rate", 1.0));
        var started = (object?[])Call("profiler_call", "start", 0L, 6L, Hash(("name", "report")))!;
        Assert.That(started[0], Is.EqualTo(6L));
        _sampler.Advance(TimeSpan.FromMilliseconds(40));
        Assert.That(Call("profiler_call", "stop", 0L), Is.EqualTo(6L));
        var tx = Payloads("transaction").Single();
        Assert.That(((string?)tx["transaction"], (string?)tx["contexts"]!["trace"]!["op"]), Is.EqualTo(("report", "profile")));
        Assert.That(Payloads("profile"), Has.Count.EqualTo(1));
        Assert.That(_sampler.Users, Is.Zero);
        var info = (Dictionary<string, object?>)Call("profiler_call", "info", 6L)!;
        Assert.That(info["sent"], Is.EqualTo(1L));
    }

    [Test]
    public void NothingToSendTo_TransactionsKeepTheirDecision_ButNoProfileIsTakenAndNothingBuilt()
    {
        // As without a dsn, envelope_dir or spotlight: the factory makes no transport.
        using var session = new EngineSession(new SessionHost(() => _sampler, _sampler, new HostInfo("x86_64", "Linux", "6.1", "5.36.0"),
            "42", "main", ["/usr/lib"], _warnings.Add)
        {
            Transports = (_, _, _, _) => (null, new ClientReports()),
        });
        object? Call(string name, params object?[] args) => SessionCalls.Call(session, name, args);
        Call("init", Hash(("traces_sample_rate", 1.0), ("profiles_sample_rate", 1.0), ("debug", 1L)), new Dictionary<string, object?>());
        Assert.That(SessionCalls.ClientHintBits(session) & SessionCalls.HintTxStartAhead, Is.Zero, "a client of the agent takes no sampler ahead");
        Call("transaction_start", 8L, Hash(("name", "job")), null);
        Assert.That((string?)Call("span_get", 8L, "to_trace_parent"), Does.EndWith("-1"), "still sampled: the trace goes on downstream");
        _sampler.Advance(TimeSpan.FromMilliseconds(50));
        Call("transaction_finish", 8L, null);
        Assert.That((_sampler.Acquires, _sampler.Marks), Is.EqualTo((0, 0)), "no profile");
        Assert.That(_warnings, Has.One.Contains("transaction job not sent"), "said with debug on");
    }

    [Test]
    public void Continuous_TraceLifecycle_OneSessionForOverlappingTransactions_ChunksCutByTheOneDrain()
    {
        Init(("traces_sample_rate", 1.0), ("profile_session_sample_rate", 1.0), ("profile_lifecycle", "trace"));
        Call("transaction_start", 2L, Hash(("name", "a")), null);
        Call("transaction_start", 3L, Hash(("name", "b")), null);
        Assert.That(_sampler.Acquires, Is.EqualTo(1), "one session for both");
        _sampler.Advance(TimeSpan.FromSeconds(61));
        Assert.That(Payloads("profile_chunk"), Has.Count.EqualTo(1), "the drain cut the first 60 s");
        Call("transaction_finish", 2L, null);
        Assert.That(_sampler.Users, Is.EqualTo(1), "b still runs");
        _sampler.Advance(TimeSpan.FromSeconds(2));
        Call("transaction_finish", 3L, null);
        Assert.That((_sampler.Users, Payloads("profile_chunk").Count), Is.EqualTo((1, 1)), "the session lingers after its last transaction");
        _sampler.Advance(TimeSpan.FromSeconds(3));
        Assert.That(_sampler.Users, Is.Zero, "ended at the first drain past the linger");
        var chunks = Payloads("profile_chunk");
        Assert.That(chunks, Has.Count.EqualTo(2));
        Assert.That(chunks.Select(c => (string?)c["profiler_id"]).Distinct().Count(), Is.EqualTo(1));
        Assert.That(chunks.Select(c => (string?)c["chunk_id"]).Distinct().Count(), Is.EqualTo(2));
        var txs = Payloads("transaction");
        Assert.That(txs.Select(t => (string?)t["contexts"]!["profile"]!["profiler_id"]), Is.All.EqualTo((string?)chunks[0]["profiler_id"]));
        Assert.That(_sampler.Store.SampleCount, Is.Zero, "nothing kept once no profile needs it");
    }

    [Test]
    public void Continuous_TraceLifecycle_BackToBackTransactions_ContinueOneSession_NotAChunkEach()
    {
        Init(("traces_sample_rate", 1.0), ("profile_session_sample_rate", 1.0), ("profile_lifecycle", "trace"));
        for (var i = 0; i < 5; i++)
        {
            Call("transaction_start", 10L + i, Hash(("name", $"request {i}")), null);
            _sampler.Advance(TimeSpan.FromMilliseconds(30));
            Call("transaction_finish", 10L + i, null);
            _sampler.Advance(TimeSpan.FromMilliseconds(300));
            Assert.That(_session.Profiling.Active, Is.Null, "nothing is profiled between transactions");
        }
        Assert.That((_sampler.Acquires, Payloads("profile_chunk").Count), Is.EqualTo((1, 0)), "one session, nothing sent yet");
        Assert.That(_sampler.Marks, Is.EqualTo(10), "each transaction's start and end marked");
        Call("transaction_start", 20L, Hash(("name", "late")), null);
        Call("transaction_finish", 20L, null);
        Assert.That(Call("profiler_call", "set", 0L, "profile_lifecycle", "manual"), Is.EqualTo("manual"), "settings change while the session only lingers: it ends first");
        var chunks = Payloads("profile_chunk");
        Assert.That(chunks, Has.Count.EqualTo(1));
        Assert.That(Payloads("transaction").Select(t => (string?)t["contexts"]!["profile"]!["profiler_id"]), Is.All.EqualTo((string?)chunks[0]["profiler_id"]));
        Assert.That(chunks[0]["profile"]!["samples"]!.Count(), Is.GreaterThanOrEqualTo(12), "the markers of all six");
        Assert.That(_sampler.Users, Is.Zero);
    }

    [Test]
    public void Decider_IsShared_SampleRateZeroDropsErrors_TracingOffLeavesTransactionsUnsampled()
    {
        Init(("sample_rate", 0.0));
        Assert.That(Call("capture_event", Hash(("message", Hash(("formatted", "x"))))), Is.Null);
        Assert.That(_session.Hub.Client.Reports.Totals[("sample_rate", "error")], Is.EqualTo(1));
        Assert.That(Call("transaction_start", 2L, Hash(("name", "t")), null), Is.EqualTo(0L));
        Assert.That(_session.Profiling.Sampler, Is.SameAs(_sampler));
    }

    [Test]
    public void ProfilerSettings_ChangedByAttribute_AreValidatedAndNewWhileIdle()
    {
        Init(("profiles_sample_rate", 1.0), ("profile_lifecycle", "manual"));
        var before = _session.Profiling.Options;
        Assert.That(Call("profiler_call", "set", 0L, "profile_lifecycle", "trace"), Is.EqualTo("trace"));
        Assert.That(before.ProfileLifecycle, Is.EqualTo(ProfileLifecycle.Manual), "the old settings object is unchanged");
        Assert.Throws<SessionCallException>(() => Call("profiler_call", "set", 0L, "max_stack_depth", 0L));
        Call("profiler_call", "start", 0L, 4L, Hash(("name", "p")));
        var e = Assert.Throws<SessionCallException>(() => Call("profiler_call", "set", 0L, "max_stack_depth", 50L));
        Assert.That(e!.Message, Does.Contain("stop it"));
    }

    [Test]
    public void CallbackThatCaptures_IsRefused_OuterEventGoesOut()
    {
        FakeCode? beforeSend = null;
        beforeSend = new FakeCode(a =>
        {
            Call("capture_event", Hash(("message", Hash(("formatted", "inner")))));
            return a[0];
        });
        Init(("before_send", beforeSend));
        Assert.That(Call("capture_event", Hash(("message", Hash(("formatted", "outer"))))), Is.Not.Null);
        Assert.That(beforeSend.Calls, Is.EqualTo(1));
        Assert.That(Payloads("event").Select(e => (string?)e["message"]!["formatted"]), Is.EqualTo(new[] { "outer" }));
        Assert.That(_warnings, Has.One.Contains("inside an SDK callback"));
    }

    [Test]
    public void ExitInsideACallback_UnwindsTheCall()
    {
        Init(("before_send", new FakeCode(_ => throw new PerlBridge.PerlExitException(7))));
        var e = Assert.Throws<CallbackAbortedException>(() => Call("capture_event", Hash(("message", "m"))));
        Assert.That(((PerlBridge.PerlExitException)e!.InnerException!).Status, Is.EqualTo(7));
        Assert.That(_transport.Sent, Is.Empty);
    }

    [Test]
    public void ExpiredProfile_StillReleasesTheSampler()
    {
        Init(("traces_sample_rate", 1.0), ("profiles_sample_rate", 1.0), ("max_profile_duration", 1L));
        Call("transaction_start", 2L, Hash(("name", "long")), null);
        _sampler.Advance(TimeSpan.FromSeconds(3));
        Call("transaction_finish", 2L, null);
        Assert.That(_sampler.Users, Is.Zero);
        var profile = Payloads("profile").Single();
        var last = profile["profile"]!["samples"]!.Max(s => long.Parse((string)s["elapsed_since_start_ns"]!));
        Assert.That(last, Is.LessThanOrEqualTo(1_000_000_000));
    }
    [Test]
    public void Warmup_RunsTheFirstCallsPaths_LeavesNothingBehind()
    {
        var before = Directory.GetDirectories(Path.GetTempPath(), "perl-sentry-warm-up-*").Length;
        Assert.DoesNotThrow(() => Warmup.Run(new SentryOptions { Release = "app@1" }, new HostInfo("x86_64", "Linux", "6.1", "5.36.0")),
            "the warm-up swallows what it throws in the field: here it must not throw at all");
        Assert.That(Directory.GetDirectories(Path.GetTempPath(), "perl-sentry-warm-up-*"), Has.Length.EqualTo(before), "its folder is gone");
    }
}
