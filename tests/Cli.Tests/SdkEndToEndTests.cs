using System.Text;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Tests.Sentry;
using PerlSentry.Engine.Tests.Sentry.Transport;

namespace PerlSentry.Cli.Tests;

/// <summary>
/// Perl scripts under <c>perl-sentry run</c> against a real HTTP server on 127.0.0.1: what arrives,
/// what is dropped and counted, and that faults lose nothing. Every body goes through the checker.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SdkEndToEndTests
{
    private FakeSentryServer _server = null!;
    private string _home = null!;

    [SetUp]
    public void SetUp()
    {
        _server = new FakeSentryServer();
        _home = Path.Combine(Path.GetTempPath(), "perlsentry-e2e-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_home);
    }

    [TearDown]
    public void TearDown()
    {
        _server.Dispose();
        Directory.Delete(_home, recursive: true);
    }

    private ProcessResult Run(string script, params (string, string)[] extra)
    {
        var env = new Dictionary<string, string> { ["SENTRY_DSN"] = _server.Dsn(), ["XDG_CACHE_HOME"] = _home };
        foreach (var (k, v) in extra) env[k] = v;
        var args = script.EndsWith(".pl") ? new[] { "run", Path.Combine(Repo.Root, "tests", "e2e", script) } : ["run", "-e", script];
        return ProcessRunner.Run(Repo.PerlSentry, args, _home, env: env, timeoutMs: 60_000);
    }

    /// <summary>Envelopes waiting in the cache, read as the next process reads them (adopting the journals).</summary>
    private int Cached()
    {
        var root = Path.Combine(_home, "perl-sentry");
        if (!Directory.Exists(root))
            return 0;
        var n = 0;
        foreach (var dir in Directory.GetDirectories(root, "envelopes-*"))
        {
            using var journal = new PerlSentry.Engine.Sentry.Transport.EnvelopeJournal(dir, 100_000);
            n += journal.Count;
        }
        return n;
    }

    private static List<(string Type, JObject Payload)> Items(byte[] body) =>
        [.. EnvelopeConformance.Items(body).Select(i => (i.Type, JObject.Parse(i.Payload)))];

    private void AssertAllConform()
    {
        foreach (var r in _server.Requests)
        {
            Assert.That(r.Path, Is.EqualTo("/api/42/envelope/"));
            Assert.That(r.Headers["X-Sentry-Auth"], Does.Contain("sentry_version=7").And.Contain("sentry_key=publickey").And.Contain("sentry_client=sentry.perl/"));
            Assert.That(EnvelopeConformance.Check(r.Body), Is.Empty, Encoding.UTF8.GetString(r.Body));
        }
        Assert.That(EnvelopeConformance.CheckSession(_server.Requests.Select(r => r.Body)), Is.Empty);
    }

    [Test]
    public void CpanStyleScript_SendsValidLinkedEnvelopes()
    {
        var r = Run("cpan_style.pl");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Does.StartWith("done "));
        AssertAllConform();
        var items = _server.Accepted.SelectMany(Items).ToList();
        var events = items.Where(i => i.Type == "event").Select(i => i.Payload).ToList();
        var txs = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        var profiles = items.Where(i => i.Type == "profile").Select(i => i.Payload).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(events, Has.Count.EqualTo(2));
            Assert.That(txs.Select(t => (string?)t["transaction"]), Is.EquivalentTo(new[] { "process-orders", "nightly-report" }));
            Assert.That(profiles, Has.Count.EqualTo(2), "both transactions profiled");
            var tx = txs.Single(t => (string?)t["transaction"] == "process-orders");
            Assert.That(tx["spans"]!.Select(s => (string?)s["op"]), Is.EquivalentTo(new[] { "db.query", "compute" }));
            Assert.That((string?)tx["contexts"]!["trace"]!["status"], Is.EqualTo("ok"));
            var exception = events.Single(e => e["exception"] is not null);
            Assert.That((string?)exception["exception"]!["values"]![0]!["value"], Is.EqualTo("payment gateway timed out"));
            Assert.That((string?)exception["tags"]!["shop"], Is.EqualTo("eu-1"));
            Assert.That((string?)exception["user"]!["email"], Is.EqualTo("jane@example.com"));
            Assert.That((string?)exception["breadcrumbs"]!["values"]![0]!["message"], Is.EqualTo("user logged in"));
            Assert.That((string?)exception["contexts"]!["trace"]!["trace_id"], Is.EqualTo((string?)tx["contexts"]!["trace"]!["trace_id"]),
                "errors captured under the transaction's span join its trace");
            var profile = profiles.Single(p => (string?)p["transaction"]!["name"] == "process-orders");
            Assert.That((string?)profile["transaction"]!["id"], Is.EqualTo((string?)tx["event_id"]));
            Assert.That(profile["profile"]!["frames"]!.Select(f => (string?)f["function"]), Has.Some.EqualTo("main::load_orders").And.Some.EqualTo("main::price"));
        });
        var sample = _server.Accepted.First(b => Items(b).Any(i => i.Type == "profile"));
        File.WriteAllBytes(Path.Combine(TestContext.CurrentContext.WorkDirectory, "e2e-transaction-envelope.txt"), sample);
    }

    [Test]
    public void ContinuousProfiling_TraceLifecycle_SendsChunksLinkedToTheTransactions()
    {
        var r = Run("continuous.pl");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Does.Contain("profiler continuous"));
        AssertAllConform();
        var items = _server.Accepted.SelectMany(Items).ToList();
        var chunks = items.Where(i => i.Type == "profile_chunk").Select(i => i.Payload).ToList();
        var txs = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(chunks, Is.Not.Empty);
            Assert.That(txs, Has.Count.EqualTo(2));
            Assert.That(items.Any(i => i.Type == "profile"), Is.False, "no v1 profiles in continuous mode");
            Assert.That(txs.Select(t => (string?)t["contexts"]!["profile"]!["profiler_id"]).Distinct().Count(), Is.EqualTo(1),
                "back-to-back transactions continue one trace-lifecycle session");
            Assert.That(chunks.Select(c => (string?)c["profiler_id"]), Is.All.EqualTo((string?)txs[0]["contexts"]!["profile"]!["profiler_id"]));
            Assert.That(chunks.Select(c => (string?)c["chunk_id"]).Distinct().Count(), Is.EqualTo(chunks.Count));
        });
    }

    [Test]
    public void ServerDown_EnvelopesStayInTheCache_AndTheNextRunSendsThem()
    {
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(500);
        var first = Run("cpan_style.pl", ("SHUTDOWN_TIMEOUT", "2"));
        Assert.That(first.ExitCode, Is.Zero, first.Stderr);
        Assert.That(first.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)));
        Assert.That(Cached(), Is.EqualTo(4), "2 events and 2 transactions with profiles, all kept");
        Assert.That(_server.Accepted, Is.Empty);

        _server.Answer = _ => FakeSentryServer.Reply.Ok;
        var second = Run("use Sentry::SDK; Sentry::SDK->init({}); Sentry::SDK->flush(10);");
        Assert.That(second.ExitCode, Is.Zero, second.Stderr);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Accepted.SelectMany(Items).Count(i => i.Type is "event" or "transaction"), Is.EqualTo(4), "nothing lost");
            Assert.That(Cached(), Is.Zero);
        });
        AssertAllConform();
    }

    [Test]
    public void KilledProcess_TheNextRunSendsWhatItCaptured()
    {
        _server.Answer = _ => FakeSentryServer.Reply.Hang;   // nothing gets through before the kill
        var killed = Run("capture_then_kill.pl");
        Assert.That(killed.ExitCode, Is.EqualTo(137).Or.EqualTo(-9), "killed by SIGKILL");
        _server.Answer = _ => FakeSentryServer.Reply.Ok;
        var next = Run("use Sentry::SDK; Sentry::SDK->init({}); Sentry::SDK->flush(10);");
        Assert.That(next.ExitCode, Is.Zero, next.Stderr);
        Assert.That(_server.Accepted.Select(Encoding.UTF8.GetString), Has.Some.Contain("sent before kill -9"));
    }

    [Test]
    public void HangingServer_ScriptExitsWithinShutdownTimeout()
    {
        _server.Answer = _ => FakeSentryServer.Reply.Hang;
        var r = Run("use Sentry::SDK; Sentry::SDK->init({ shutdown_timeout => 1 }); Sentry::SDK->capture_message('x'); print qq(ok\\n);");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Is.EqualTo("ok\n"));
        Assert.That(r.Elapsed, Is.LessThan(TimeSpan.FromSeconds(6)), "1 s shutdown_timeout plus start-up");
        Assert.That(Cached(), Is.EqualTo(1), "the envelope waits for the next run");
    }

    [Test]
    public void TransactionRateLimited_LaterTransactionAndProfileDropped_AndReported()
    {
        _server.Answer = n => n == 0
            ? FakeSentryServer.Reply.WithStatus(429, ("X-Sentry-Rate-Limits", "60:transaction:organization"))
            : FakeSentryServer.Reply.Ok;
        var r = Run("rate_limited.pl");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        AssertAllConform();
        var accepted = _server.Accepted.SelectMany(Items).ToList();
        var reports = accepted.Where(i => i.Type == "client_report")
            .SelectMany(i => i.Payload["discarded_events"]!).ToList();
        long Count(string reason, string category) => reports.Where(d => (string?)d["reason"] == reason && (string?)d["category"] == category).Sum(d => (long)d["quantity"]!);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests.Skip(1).SelectMany(q => Items(q.Body)).Count(i => i.Type == "transaction"), Is.Zero,
                "the limited transaction never left");
            Assert.That(accepted.Count(i => i.Type == "transaction"), Is.Zero);
            Assert.That(accepted.Count(i => i.Type == "event"), Is.EqualTo(1));
            Assert.That(Count("ratelimit_backoff", "transaction"), Is.EqualTo(1));
            Assert.That(Count("ratelimit_backoff", "profile"), Is.EqualTo(1));
        });
    }

    [Test]
    public void TermRightAfterCaptures_WithAnEnvelopeFolder_NothingIsLost()
    {
        var folder = Path.Combine(_home, "out");
        var killed = Run($"use Sentry::SDK; Sentry::SDK->init({{ envelope_dir => '{folder}' }}); Sentry::SDK->capture_message(\"m$_\") for 1 .. 50; kill TERM => $$; sleep 5;");
        Assert.That(killed.ExitCode, Is.EqualTo(143).Or.EqualTo(-15), "ended by SIGTERM, no END block");
        // The captures were in the journal before each call returned; the next run on the folder writes the rest.
        var next = Run($"use Sentry::SDK; Sentry::SDK->init({{ envelope_dir => '{folder}' }}); Sentry::SDK->flush(10);");
        Assert.That(next.ExitCode, Is.Zero, next.Stderr);
        var messages = Directory.GetFiles(folder, "*.envelope").SelectMany(f => Items(File.ReadAllBytes(f)))
            .Where(i => i.Type == "event").Select(i => (string?)i.Payload["message"]!["formatted"]).ToList();
        Assert.That(messages, Is.EquivalentTo(Enumerable.Range(1, 50).Select(i => $"m{i}")), "all 50, each once");
    }

    [Test]
    public void TwoProcessesShareOneCacheDuringAnOutage_EverythingIsDeliveredOnce()
    {
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(503);
        string Script(string who) => $"use Sentry::SDK; Sentry::SDK->init({{ shutdown_timeout => 1 }}); Sentry::SDK->capture_message(\"{who} $_\") for 1 .. 30;";
        var first = System.Threading.Tasks.Task.Run(() => Run(Script("a")));
        var second = System.Threading.Tasks.Task.Run(() => Run(Script("b")));
        Assert.That(first.Result.ExitCode, Is.Zero, first.Result.Stderr);
        Assert.That(second.Result.ExitCode, Is.Zero, second.Result.Stderr);
        Assert.That(Cached(), Is.EqualTo(60), "both kept everything in the one cache");
        _server.Answer = _ => FakeSentryServer.Reply.Ok;
        var third = System.Threading.Tasks.Task.Run(() => Run("use Sentry::SDK; Sentry::SDK->init({}); Sentry::SDK->flush(10);"));
        var fourth = System.Threading.Tasks.Task.Run(() => Run("use Sentry::SDK; Sentry::SDK->init({}); Sentry::SDK->flush(10);"));
        Assert.That(third.Result.ExitCode + fourth.Result.ExitCode, Is.Zero);
        var delivered = _server.Accepted.SelectMany(Items).Where(i => i.Type == "event").Select(i => (string?)i.Payload["message"]!["formatted"]).ToList();
        Assert.That(delivered, Has.Count.EqualTo(60), "each once: a journal belongs to one process at a time");
        Assert.That(delivered.Distinct().Count(), Is.EqualTo(60));
        Assert.That(Cached(), Is.Zero);
    }

    [Test]
    public void BadOption_CroaksAtInit_WithWhatToFix()
    {
        var r = Run("use Sentry::SDK; Sentry::SDK->init({ dsn => 'sentry.example.com' });");
        Assert.That(r.ExitCode, Is.Not.Zero);
        Assert.That(r.Stderr, Does.Contain("Sentry::SDK->init: option 'dsn'").And.Contain("https://<public_key>@<host>/<project_id>").And.Contain("at -e line 1"));
    }

    [TestCase("profiling_demo.pl")]
    [TestCase("profiling_integration_demo.pl")]
    [TestCase("profiling_performance_test.pl")]
    public void SeedExample_WorksAgainstTheFolderSinkAndADsn(string example)
    {
        var script = Path.Combine(Repo.Root, "examples", example);
        var folder = Path.Combine(_home, "envelopes");
        var env = new Dictionary<string, string> { ["XDG_CACHE_HOME"] = _home, ["PERLSENTRY_ENVELOPE_DIR"] = folder };
        var local = ProcessRunner.Run(Repo.PerlSentry, ["run", script, "2"], _home, env: env, timeoutMs: 120_000);
        Assert.That(local.ExitCode, Is.Zero, local.Stderr);
        var files = Directory.GetFiles(folder, "*.envelope");
        Assert.That(files, Is.Not.Empty);
        foreach (var f in files)
            Assert.That(EnvelopeConformance.Check(File.ReadAllBytes(f)), Is.Empty, f);
        Assert.That(files.SelectMany(f => Items(File.ReadAllBytes(f))).Count(i => i.Type == "profile"), Is.GreaterThanOrEqualTo(1));

        env.Remove("PERLSENTRY_ENVELOPE_DIR");
        env["SENTRY_DSN"] = _server.Dsn();
        var remote = ProcessRunner.Run(Repo.PerlSentry, ["run", script, "2"], _home, env: env, timeoutMs: 120_000);
        Assert.That(remote.ExitCode, Is.Zero, remote.Stderr);
        Assert.That(_server.Accepted, Has.Count.EqualTo(files.Length), "the same envelopes reach the server");
        AssertAllConform();
    }
}
