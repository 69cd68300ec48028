using Newtonsoft.Json.Linq;
using PerlSentry.Hosting;
using PerlSentry.PerlBridge;

namespace PerlSentry.Hosting.Tests;

/// <summary>
/// A pool with Sentry options: every call a transaction with its profile on its interpreter's thread,
/// a die an event, the caller's trace continued. Envelopes are read from a real <c>envelope_dir</c>.
/// </summary>
[TestFixture]
public sealed class PerlPoolSentryTests
{
    private string _dir = null!;
    private string _app = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("perlsentry-pool-sentry-").FullName;
        _app = Path.Combine(_dir, "app.pl");
        File.WriteAllText(_app, """
            package App;
            use Time::HiRes ();
            sub work { my ($s) = @_; my $t = Time::HiRes::time() + $s; my $n = 0; $n++ while Time::HiRes::time() < $t; return $n > 0 ? 'done' : 'none' }
            sub fail { die "no such order: $_[0]\n" }
            sub note { Sentry::SDK->capture_message("note $_[0]"); return 1 }
            sub spin { my $n = 0; 1 while ++$n }
            sub tagged {
                my ($id) = @_;
                Sentry::SDK->configure_scope(sub { $_[0]->set_tag(order => $id) });
                Sentry::Hub->get_current_hub->push_scope;   # left pushed: the call's end pops it with the call's own
                Sentry::SDK->capture_message("tagged $id");
                return 1;
            }
            1;
            """);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    /// <summary>Every item of every envelope in the folder: (type, payload).</summary>
    private List<(string Type, JObject Payload)> Items()
    {
        var items = new List<(string, JObject)>();
        foreach (var file in Directory.GetFiles(Path.Combine(_dir, "out"), "*.envelope"))
        {
            var lines = File.ReadAllText(file).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 1; i + 1 < lines.Length; i += 2)
                items.Add(((string)JObject.Parse(lines[i])["type"]!, JObject.Parse(lines[i + 1])));
        }
        return items;
    }

    /// <summary>A pool of <paramref name="interpreters"/> running the app, its envelopes written to <c>out</c>.</summary>
    private PerlPoolOptions Options(int interpreters, double tracesSampleRate, TimeSpan? callTimeout = null) => new()
    {
        Interpreters = interpreters,
        AppFile = _app,
        CallTimeout = callTimeout,
        Sentry = new Dictionary<string, object?> { ["envelope_dir"] = Path.Combine(_dir, "out"), ["traces_sample_rate"] = tracesSampleRate },
    };

    [Test]
    public async Task EveryCall_IsATransactionWithItsProfile_OnItsInterpretersThread_AndADieIsAnEvent()
    {
        const string traceId = "0af7651916cd43dd8448eb211c80319c";
        var options = new PerlPoolOptions
        {
            Interpreters = 2,
            AppFile = _app,
            Sentry = new Dictionary<string, object?>
            {
                ["envelope_dir"] = Path.Combine(_dir, "out"), ["traces_sample_rate"] = 1.0, ["profiles_sample_rate"] = 1.0, ["release"] = "pool-test@1",
            },
        };
        await using (var pool = PerlPool.Start(options))
        {
            var calls = Enumerable.Range(0, 4).Select(_ => pool.InvokeAsync("App::work", [0.15])).ToList();
            calls.Add(pool.InvokeAsync("App::work", [0.05], new PerlTrace($"{traceId}-b7ad6b7169203331-1", $"sentry-trace_id={traceId},sentry-sample_rate=1")));
            Assert.That(await Task.WhenAll(calls), Is.All.EqualTo("done"));
            var e = Assert.ThrowsAsync<PerlException>(() => pool.InvokeAsync("App::fail", ["A-17"]));
            Assert.That(e!.Message, Is.EqualTo("no such order: A-17"), "the die comes back as it was");
        }
        var items = Items();
        var transactions = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        Assert.That(transactions, Has.Count.EqualTo(6));
        Assert.That(transactions.Select(t => (string?)t["transaction"]).Distinct(), Is.EquivalentTo(new[] { "App::work", "App::fail" }));
        Assert.That(transactions.All(t => (string?)t["contexts"]!["trace"]!["op"] == "perl.call"));
        Assert.That(transactions.All(t => (string?)t["release"] == "pool-test@1"));
        var threads = transactions.Select(t => (string?)t["contexts"]!["trace"]!["data"]!["thread.id"]).Distinct().ToList();
        Assert.That(threads, Has.Count.EqualTo(2), "each interpreter is a thread of its own");
        Assert.That(transactions.Count(t => (string?)t["contexts"]!["trace"]!["trace_id"] == traceId), Is.EqualTo(1), "the caller's trace continued");
        var failed = transactions.Single(t => (string?)t["transaction"] == "App::fail");
        Assert.That((string?)failed["contexts"]!["trace"]!["status"], Is.EqualTo("internal_error"));

        var profiles = items.Where(i => i.Type == "profile").Select(i => i.Payload).ToList();
        var work = transactions.Where(t => (string?)t["transaction"] == "App::work").ToList();
        foreach (var tx in work)
        {
            var profile = profiles.SingleOrDefault(p => (string?)p["transaction"]!["id"] == (string?)tx["event_id"]);
            Assert.That(profile, Is.Not.Null, "a profile for each call that ran long enough");
            var thread = (string?)tx["contexts"]!["trace"]!["data"]!["thread.id"];
            Assert.That((string?)profile!["transaction"]!["active_thread_id"], Is.EqualTo(thread), "sampled on the interpreter that ran it");
            var frames = ((JArray)profile["profile"]!["frames"]!).Select(f => (string?)f["function"]).ToList();
            Assert.That(frames, Does.Contain("App::work"));
            Assert.That(((JArray)profile["profile"]!["frames"]!).Select(f => (string?)f["filename"]), Has.None.EqualTo("-e"),
                () => "no frame for the host's own `perl -e 0` top level: " + profile["profile"]!["frames"]!.ToString(Newtonsoft.Json.Formatting.None) + profile["profile"]!["stacks"]!.ToString(Newtonsoft.Json.Formatting.None));
        }

        var evt = items.Single(i => i.Type == "event").Payload;
        Assert.That((string?)evt["exception"]!["values"]![0]!["value"], Is.EqualTo("no such order: A-17"));
        Assert.That((string?)evt["contexts"]!["trace"]!["trace_id"], Is.EqualTo((string?)failed["contexts"]!["trace"]!["trace_id"]));
        Assert.That((string?)evt["transaction"], Is.EqualTo("App::fail"));
        var stack = (JArray)evt["exception"]!["values"]![0]!["stacktrace"]!["frames"]!;
        Assert.That((string?)stack.Last!["function"], Is.EqualTo("App::fail"), "the stack where it died");
        Assert.That((string?)stack.Last!["filename"], Does.EndWith("app.pl"));
        Assert.That(stack.Select(f => (string?)f["filename"]), Has.None.EqualTo("-e"), () => "no frame for the host's own top level: " + stack.ToString(Newtonsoft.Json.Formatting.None));
    }

    [Test]
    public async Task OneEnvelopeFolder_SharedByFourInterpreters_OneThousandEnvelopes_OneThousandFiles()
    {
        await using (var pool = PerlPool.Start(Options(4, tracesSampleRate: 0.0)))
            await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => pool.InvokeAsync("App::note", [(long)i])));
        var items = Items();
        var messages = items.Where(i => i.Type == "event").Select(i => (string?)i.Payload["message"]!["formatted"]).ToList();
        Assert.That(messages, Is.EquivalentTo(Enumerable.Range(0, 1000).Select(i => $"note {i}")), "each once");
        // One file per envelope: each event in a file of its own; any other file is a client report
        // (each interpreter's unsampled transactions).
        var files = Directory.GetFiles(Path.Combine(_dir, "out"), "*.envelope")
            .Select(f => File.ReadAllText(f).Split('\n', StringSplitOptions.RemoveEmptyEntries).Where((_, n) => n % 2 == 1)
                .Select(h => (string?)JObject.Parse(h)["type"]).ToList()).ToList();
        Assert.That(files.Count(types => types.Contains("event")), Is.EqualTo(1000));
        Assert.That(files.Where(types => !types.Contains("event")).SelectMany(t => t), Is.All.EqualTo("client_report"));
    }

    [Test]
    public async Task WhatACallSetsOnItsScope_IsInItsEvents_AndNotInTheNextCalls()
    {
        await using (var pool = PerlPool.Start(Options(1, tracesSampleRate: 1.0)))
        {
            Assert.That(await pool.InvokeAsync("App::tagged", ["A-1"]), Is.EqualTo(1L));
            Assert.That(await pool.InvokeAsync("App::note", ["after"]), Is.EqualTo(1L));
        }
        var items = Items();
        var transactions = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        Assert.That(transactions.Select(t => (string?)t["transaction"]), Is.EquivalentTo(new[] { "App::tagged", "App::note" }));
        Assert.That(transactions.Select(t => (string?)t["contexts"]!["trace"]!["status"]), Is.All.EqualTo("ok"));
        var events = items.Where(i => i.Type == "event").Select(i => i.Payload).ToDictionary(e => (string)e["message"]!["formatted"]!);
        var tagged = events["tagged A-1"];
        Assert.That((string?)tagged["tags"]?["order"], Is.EqualTo("A-1"));
        Assert.That((string?)tagged["transaction"], Is.EqualTo("App::tagged"));
        var tx = transactions.Single(t => (string?)t["transaction"] == "App::tagged");
        Assert.That((string?)tagged["contexts"]!["trace"]!["trace_id"], Is.EqualTo((string?)tx["contexts"]!["trace"]!["trace_id"]));
        var after = events["note after"];
        Assert.That(after["tags"]?["order"], Is.Null, "the tag stayed in its call");
        Assert.That((string?)after["transaction"], Is.EqualTo("App::note"));
    }

    [Test]
    public async Task ACallStoppedByItsTimeout_EndsItsTransactionInternalError_AndTheNextCallIsClean()
    {
        await using (var pool = PerlPool.Start(Options(1, tracesSampleRate: 1.0, callTimeout: TimeSpan.FromMilliseconds(300))))
        {
            Assert.ThrowsAsync<TimeoutException>(() => pool.InvokeAsync("App::spin", []));
            Assert.That(await pool.InvokeAsync("App::note", ["after"]), Is.EqualTo(1L));
            Assert.That(pool.Replaced, Is.Zero, "stopped at a safe point, not replaced");
        }
        var items = Items();
        var transactions = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        Assert.That(transactions.Select(t => (string?)t["transaction"]), Is.EquivalentTo(new[] { "App::spin", "App::note" }));
        var spin = transactions.Single(t => (string?)t["transaction"] == "App::spin");
        var note = transactions.Single(t => (string?)t["transaction"] == "App::note");
        Assert.That((string?)spin["contexts"]!["trace"]!["status"], Is.EqualTo("internal_error"));
        Assert.That((string?)note["contexts"]!["trace"]!["status"], Is.EqualTo("ok"));
        var events = items.Where(i => i.Type == "event").Select(i => i.Payload).ToList();
        var stopped = events.Single(e => e["exception"] is not null);
        Assert.That((string?)stopped["exception"]!["values"]![0]!["value"], Does.StartWith("App::spin ran longer than 0.3 s"));
        Assert.That((string?)stopped["transaction"], Is.EqualTo("App::spin"));
        var after = events.Single(e => (string?)e["message"]?["formatted"] == "note after");
        Assert.That((string?)after["transaction"], Is.EqualTo("App::note"), "the stopped call's scope did not stay");
        Assert.That((string?)after["contexts"]!["trace"]!["trace_id"], Is.EqualTo((string?)note["contexts"]!["trace"]!["trace_id"]));
    }

    [Test]
    public void ABadSentryOption_FailsTheStart_NamingIt()
    {
        var options = new PerlPoolOptions { Interpreters = 1, Sentry = new Dictionary<string, object?> { ["traces_sample_rate"] = 2.0 } };
        var e = Assert.Throws<PerlException>(() => PerlPool.Start(options));
        Assert.That(e!.Message, Does.Contain("traces_sample_rate"));
    }
}
