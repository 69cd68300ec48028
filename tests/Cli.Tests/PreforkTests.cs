using System.Net;

namespace PerlSentry.Cli.Tests;

/// <summary>
/// Perl's real deployments fork: a prefork server, a job pool, a daemon. Each test counts what
/// reached a Sentry stand-in on 127.0.0.1 and asserts it is what the program sent, and that the
/// program answers and exits as it does without the SDK.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PreforkTests
{
    private const string App = """
        use strict; use warnings;
        use Plack::Builder;
        my $app = sub {
            my $env = shift;
            die "boom at $env->{PATH_INFO}\n" if $env->{PATH_INFO} eq '/die';
            my $x = 0; $x += $_ for 1 .. 20000;
            return [200, ['Content-Type' => 'text/plain'], ["ok $x\n"]];
        };
        if ($ENV{WITH_SENTRY}) {
            require Sentry::SDK;
            Sentry::SDK->init({ traces_sample_rate => 1.0, profiles_sample_rate => 1.0, release => 'shop@1' });
            $app = builder { enable 'Sentry'; $app };
        }
        $app;
        """;

    /// <summary>200 requests, 8 at a time, every fourth to a route that dies: the status codes seen.</summary>
    private static Dictionary<int, int> Load(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var codes = new System.Collections.Concurrent.ConcurrentBag<int>();
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var path = i % 4 == 3 ? "/die" : "/work";
            using var r = http.GetAsync($"http://127.0.0.1:{port}{path}").GetAwaiter().GetResult();
            codes.Add((int)r.StatusCode);
        });
        return codes.GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
    }

    private static Dictionary<int, int> RunStarman(AgentWorld world, string app, bool hosted, bool withSentry, string tag)
    {
        var port = AgentWorld.FreePort();
        string[] starman = ["/usr/bin/starman", "--workers", "4", "--listen", $"127.0.0.1:{port}", app];
        var env = world.Env(("WITH_SENTRY", withSentry ? "1" : ""));
        using var server = hosted
            ? new BackgroundProcess(Repo.PerlSentry, ["run", .. starman], world.Dir, env, Path.Combine(world.Dir, tag))
            : new BackgroundProcess("perl", starman, world.Dir, env, Path.Combine(world.Dir, tag));
        server.WaitForPort(port);
        var codes = Load(port);
        server.Stop();
        return codes;
    }

    [TestCase(false, TestName = "Starman_FourWorkers_PlainPerl_EveryRequestATransactionWithItsProfile_EveryDieAnEvent")]
    [TestCase(true, TestName = "Starman_FourWorkers_UnderPerlSentryRun_EveryRequestATransactionWithItsProfile_EveryDieAnEvent")]
    public void Starman_FourWorkers(bool hosted)
    {
        using var world = new AgentWorld();
        var app = world.Script("app.psgi", App);
        var without = RunStarman(world, app, hosted: false, withSentry: false, "baseline");
        var with = RunStarman(world, app, hosted, withSentry: true, "sentry");
        Assert.That(without, Is.EqualTo(new Dictionary<int, int> { [200] = 150, [500] = 50 }), "the app itself");
        Assert.That(with, Is.EqualTo(without), "the same answers with the SDK");
        Assert.Multiple(() =>
        {
            Assert.That(world.WaitFor("transaction", 200), Is.EqualTo(200), () => "one transaction per request; dropped: " + world.Discarded()
                + "; agent log: " + (File.Exists(world.Socket + ".log") ? File.ReadAllText(world.Socket + ".log") : "none"));
            Assert.That(world.WaitFor("profile", 200), Is.EqualTo(200), () => "each with its profile; dropped: " + world.Discarded());
            Assert.That(world.WaitFor("event", 50), Is.EqualTo(50), "one event per die");
        });
        var items = world.Items();
        var txs = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        Assert.That(txs.Select(t => (string?)t["transaction"]).Distinct(), Is.EquivalentTo(new[] { "GET /work", "GET /die" }));
        Assert.That(txs.Count(t => (string?)t["contexts"]!["trace"]!["status"] == "internal_error"), Is.EqualTo(50));
        var workers = txs.Select(t => (string?)t["contexts"]!["trace"]!["data"]!["thread.id"]).Distinct().Count();
        Assert.That(workers, Is.InRange(2, 4), "the workers served them, each its own thread");
        var profile = items.First(i => i.Type == "profile").Payload;
        Assert.That(profile["profile"]!["frames"]!.Select(f => (string?)f["function"]), Has.Some.EqualTo("main::__ANON__[" + app + ":5]").Or.Some.StartsWith("Plack::"));
        var exception = items.First(i => i.Type == "event").Payload;
        Assert.That((string?)exception["exception"]!["values"]![0]!["value"], Is.EqualTo("boom at /die"));
        Assert.That((string?)exception["contexts"]!["trace"]!["trace_id"], Is.Not.Null, "the event joins its request's trace");
        world.AssertAllConform();
    }
}
