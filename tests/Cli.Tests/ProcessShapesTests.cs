using System.Net;

namespace PerlSentry.Cli.Tests;

/// <summary>
/// The shapes Perl software runs in besides a prefork web server: a Mojolicious prefork server and
/// hypnotoad, a Minion worker, a Parallel::ForkManager pool, a daemon, ithreads, and an agent that
/// dies in the middle of a run. Each counts what reached a Sentry stand-in on 127.0.0.1.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ProcessShapesTests
{
    private static Dictionary<int, int> Load(int port, int requests = 200)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var codes = new System.Collections.Concurrent.ConcurrentBag<int>();
        Parallel.For(0, requests, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            using var r = http.GetAsync($"http://127.0.0.1:{port}{(i % 4 == 3 ? "/die" : "/work")}").GetAwaiter().GetResult();
            codes.Add((int)r.StatusCode);
        });
        return codes.GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
    }

    private static string MojoApp(int port, string pidFile) => $$"""
        use Mojolicious::Lite -signatures;
        app->config(hypnotoad => { listen => ['http://127.0.0.1:{{port}}'], workers => 4, pid_file => '{{pidFile}}' });
        app->log->level('fatal');
        plugin Sentry => { traces_sample_rate => 1.0, profiles_sample_rate => 1.0 } if $ENV{WITH_SENTRY};
        get '/work' => sub ($c) { my $x = 0; $x += $_ for 1 .. 20000; $c->render(text => "ok $x") };
        get '/die' => sub ($c) { die "mojo boom\n" };
        app->start;
        """;

    private static void AssertRequestsTraced(AgentWorld world)
    {
        Assert.Multiple(() =>
        {
            Assert.That(world.WaitFor("transaction", 200), Is.EqualTo(200), () => "one transaction per request; dropped: " + world.Discarded());
            Assert.That(world.WaitFor("profile", 200), Is.EqualTo(200), () => "each with its profile; dropped: " + world.Discarded());
            Assert.That(world.WaitFor("event", 50), Is.EqualTo(50), "one event per die");
        });
        world.AssertAllConform();
    }

    [TestCase(false, TestName = "MojoPrefork_FourWorkers_PlainPerl_EveryRequestTraced")]
    [TestCase(true, TestName = "MojoPrefork_FourWorkers_UnderPerlSentryRun_EveryRequestTraced")]
    public void MojoPrefork(bool hosted)
    {
        using var world = new AgentWorld();
        Dictionary<int, int> Run(bool withSentry)
        {
            var port = AgentWorld.FreePort();
            var app = world.Script($"mojo-{port}.pl", MojoApp(port, "/dev/null"));
            string[] args = [app, "prefork", "-w", "4", "-l", $"http://127.0.0.1:{port}"];
            var env = world.Env(("WITH_SENTRY", withSentry ? "1" : ""));
            using var server = hosted && withSentry
                ? new BackgroundProcess(Repo.PerlSentry, ["run", .. args], world.Dir, env, Path.Combine(world.Dir, "mojo-s"))
                : new BackgroundProcess("perl", args, world.Dir, env, Path.Combine(world.Dir, "mojo-b"));
            server.WaitForPort(port);
            var codes = Load(port);
            server.Stop();
            return codes;
        }
        var without = Run(withSentry: false);
        var with = Run(withSentry: true);
        Assert.That(without, Is.EqualTo(new Dictionary<int, int> { [200] = 150, [500] = 50 }));
        Assert.That(with, Is.EqualTo(without), "the same answers with the SDK");
        AssertRequestsTraced(world);
        var names = world.Items().Where(i => i.Type == "transaction").Select(i => (string?)i.Payload["transaction"]).Distinct();
        Assert.That(names, Is.EquivalentTo(new[] { "GET /work", "GET /die" }));
    }

    [TestCase(false, TestName = "Hypnotoad_PlainPerl_DaemonisedAndStopped_EveryRequestTraced")]
    [TestCase(true, TestName = "Hypnotoad_UnderPerlSentryRun_DaemonisedReExecutedAndStopped_EveryRequestTraced")]
    public void Hypnotoad(bool hosted)
    {
        using var world = new AgentWorld();
        var port = AgentWorld.FreePort();
        var pidFile = Path.Combine(world.Dir, "hypnotoad.pid");
        var app = world.Script("hyp.pl", MojoApp(port, pidFile));
        var env = world.Env(("WITH_SENTRY", "1"));
        if (hosted)
        {
            // hypnotoad re-runs itself through $^X (the real perl) and daemonises; the host's env lets it find the SDK.
            env.Remove("PERL5LIB");
            env.Remove("PERLSENTRY_AGENT_BIN");
        }
        ProcessResult Hypnotoad(params string[] args) => hosted
            ? ProcessRunner.Run(Repo.PerlSentry, ["run", "/usr/bin/hypnotoad", .. args], world.Dir, env: env, timeoutMs: 60_000)
            : ProcessRunner.Run("/usr/bin/hypnotoad", args, world.Dir, env: env, timeoutMs: 60_000);
        var start = Hypnotoad(app);
        Assert.That(start.ExitCode, Is.Zero, start.Stderr);
        Assert.That(BackgroundProcess.PortOpens(port, 30), Is.True, "hypnotoad listens");
        var codes = Load(port);
        var stop = Hypnotoad("-s", app);
        Assert.That(stop.ExitCode, Is.Zero, stop.Stderr + stop.Stdout);
        Assert.That(codes, Is.EqualTo(new Dictionary<int, int> { [200] = 150, [500] = 50 }));
        AssertRequestsTraced(world);
    }

    [Test]
    public void MinionWorker_TwentyJobs_TwentyTransactions()
    {
        using var world = new AgentWorld();
        var db = Path.Combine(world.Dir, "minion.db");
        var app = world.Script("minion.pl", $$"""
            use Mojolicious::Lite -signatures;
            use Sentry::SDK;
            app->log->level('fatal');
            plugin Minion => { SQLite => 'sqlite:{{db}}' };
            Sentry::SDK->init({ traces_sample_rate => 1.0 });
            app->minion->add_task(work => sub ($job, $n) {
                my $tx = Sentry::SDK->start_transaction({ name => 'minion:work', op => 'queue.task' });
                my $x = 0; $x += $_ for 1 .. 10000;
                $job->finish("done $n");
                $tx->finish;
            });
            if (($ARGV[0] // '') eq 'enqueue') { app->minion->enqueue(work => [$_]) for 1 .. 20; exit 0 }
            if (($ARGV[0] // '') eq 'finished') { print app->minion->stats->{finished_jobs}, "\n"; exit 0 }
            app->start;
            """);
        Assert.That(world.Perl(app, "enqueue").ExitCode, Is.Zero);
        using (var worker = new BackgroundProcess("perl", [app, "minion", "worker", "-j", "4", "-D", "1"], world.Dir, world.Env(), Path.Combine(world.Dir, "worker")))
        {
            var until = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < until && world.Perl(app, "finished").Stdout.Trim() != "20")
                Thread.Sleep(200);
            // The last job's process may still be finishing its transaction: stopping the worker now could kill it.
            world.WaitFor("transaction", 20);
            worker.Stop();
        }
        Assert.That(world.Perl(app, "finished").Stdout.Trim(), Is.EqualTo("20"), "every job ran");
        Assert.That(world.WaitFor("transaction", 20), Is.EqualTo(20), () => "one transaction per job (Minion forks each); dropped: " + world.Discarded());
        world.AssertAllConform();
    }

    [TestCase(false, TestName = "ForkManager_TwentyJobs_PlainPerl_EveryJobsEventsArrive_ExitCodesKept")]
    [TestCase(true, TestName = "ForkManager_TwentyJobs_UnderPerlSentryRun_EveryJobsEventsArrive_ExitCodesKept")]
    public void ForkManager(bool hosted)
    {
        using var world = new AgentWorld();
        var script = world.Script("pool.pl", """
            use strict; use warnings;
            use Parallel::ForkManager;
            use Sentry::SDK;
            Sentry::SDK->init({ traces_sample_rate => 1.0, release => 'pool@1' });
            my $pm = Parallel::ForkManager->new(4);
            my %codes;
            $pm->run_on_finish(sub { my ($pid, $code) = @_; $codes{$code}++ });
            for my $i (1 .. 20) {
                $pm->start and next;
                my $tx = Sentry::SDK->start_transaction({ name => "job-$i", op => 'task' });
                $tx->start_child({ op => 'step' })->finish;
                $tx->finish;
                Sentry::SDK->capture_message("job $i done");
                $pm->finish($i % 5);
            }
            $pm->wait_all_children;
            print join(',', map { "$_=$codes{$_}" } sort keys %codes), "\n";
            """);
        var r = hosted ? world.Hosted(script) : world.Perl(script);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Is.EqualTo("0=4,1=4,2=4,3=4,4=4\n"), "every child's exit code, as without the SDK");
        Assert.That(world.WaitFor("transaction", 20), Is.EqualTo(20), () => "dropped: " + world.Discarded() + "; twice: " + world.Duplicates("transaction"));
        Assert.That(world.WaitFor("event", 20), Is.EqualTo(20), () => "twice: " + world.Duplicates("event"));
        var names = world.Items().Where(i => i.Type == "transaction").Select(i => (string?)i.Payload["transaction"]).ToHashSet();
        Assert.That(names, Has.Count.EqualTo(20));
        world.AssertAllConform();
    }

    [TestCase(false, TestName = "Daemon_ForkSetsidFork_ThenInit_PlainPerl_EventsArrive")]
    [TestCase(true, TestName = "Daemon_InitThenForkSetsidFork_UnderPerlSentryRun_EventsArrive")]
    public void Daemon(bool hosted)
    {
        using var world = new AgentWorld();
        var script = world.Script("daemon.pl", $$"""
            use strict; use warnings;
            use POSIX ();
            use Sentry::SDK;
            Sentry::SDK->init({ traces_sample_rate => 1.0 }) if {{(hosted ? 1 : 0)}};   # before daemonising: the session goes along
            exit 0 if fork;
            POSIX::setsid();
            exit 0 if fork;
            open STDIN, '<', '/dev/null'; open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null';
            Sentry::SDK->init({ traces_sample_rate => 1.0 }) unless {{(hosted ? 1 : 0)}};  # after daemonising
            Sentry::SDK->capture_message("from the daemon $$");
            my $tx = Sentry::SDK->start_transaction({ name => 'daemon-work' });
            $tx->finish;
            """);
        var r = hosted ? world.Hosted(script) : world.Perl(script);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(world.WaitFor("event", 1), Is.EqualTo(1), () => "the daemon's event; dropped: " + world.Discarded());
        Assert.That(world.WaitFor("transaction", 1), Is.EqualTo(1));
        world.AssertAllConform();
    }

    [Test]
    public void ContinuousTraceLifecycle_PlainPerl_AfterTheLastTransactionsLinger_TheSamplerStops_WithoutAnotherSdkCall()
    {
        // A worker that handles a traced job, then works on without calling the SDK: the agent ends the
        // profile session after its linger (2 s) and its release must reach the client then, not at the
        // program's next SDK call (here: its exit), or the program is sampled all that while for nothing.
        using var world = new AgentWorld();
        var script = world.Script("worker.pl", """
            use strict; use warnings;
            use Time::HiRes qw(time);
            use Sentry::SDK;
            Sentry::SDK->init({ traces_sample_rate => 1.0, profile_session_sample_rate => 1.0, profile_lifecycle => 'trace' });
            my $tx = Sentry::SDK->start_transaction({ name => 'job' });
            my ($x, $t) = (0, time);
            $x++ while time - $t < 0.3;
            $tx->finish;
            $t = time;
            $x++ while time - $t < 8;
            print STDERR "busy done\n";
            """);
        var r = ProcessRunner.Run("perl", [script], world.Dir, env: world.Env(("PERLSENTRY_DEBUG", "1")), timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        var stopped = r.Stderr.IndexOf("sampler stopped (the agent let it go)", StringComparison.Ordinal);
        Assert.That(stopped, Is.GreaterThanOrEqualTo(0).And.LessThan(r.Stderr.IndexOf("busy done", StringComparison.Ordinal)),
            "stopped while the program worked on: " + r.Stderr);
        Assert.That(world.WaitFor("transaction", 1), Is.EqualTo(1));
        Assert.That(world.WaitFor("profile_chunk", 1), Is.EqualTo(1), () => "the session's chunk; dropped: " + world.Discarded());
        world.AssertAllConform();
    }

    [TestCase(false, TestName = "Ithreads_FourThreadsTransactionsAndProfiles_PlainPerl")]
    [TestCase(true, TestName = "Ithreads_FourThreadsTransactionsAndProfiles_UnderPerlSentryRun")]
    public void Ithreads(bool hosted)
    {
        using var world = new AgentWorld();
        var script = world.Script("threads.pl", """
            use strict; use warnings;
            use threads;
            use Sentry::SDK;
            Sentry::SDK->init({ traces_sample_rate => 1.0, profiles_sample_rate => 1.0,
                                before_send => sub { $_[0]{tags}{tid} = threads->tid; $_[0] } });
            use Time::HiRes ();
            # At least 0.3 s of work a thread, whatever the machine's load: a fixed count of iterations
            # (600,000, ~30 ms) once ended before the sampler's first tick in all four threads, in one
            # full run of the suite, leaving each profile only its start and finish markers.
            sub spin { my $x = 0; my $end = Time::HiRes::time() + 0.3; while (Time::HiRes::time() < $end) { $x += $_ for 1 .. 20_000 } $x }
            my @t = map { threads->create(sub {
                my $n = shift;
                my $tx = Sentry::SDK->start_transaction({ name => "thread-$n", op => 'task' });
                spin();
                $tx->finish;
                Sentry::SDK->capture_message("thread $n");
                return $n;
            }, $_) } 1 .. 4;
            print join(',', map { $_->join } @t), "\n";
            """);
        var r = hosted ? world.Hosted(script) : world.Perl(script);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Is.EqualTo("1,2,3,4\n"));
        Assert.That(world.WaitFor("transaction", 4), Is.EqualTo(4), () => "dropped: " + world.Discarded());
        Assert.That(world.WaitFor("profile", 4), Is.EqualTo(4), () => "dropped: " + world.Discarded());
        var items = world.Items();
        var events = items.Where(i => i.Type == "event").Select(i => i.Payload).ToList();
        Assert.That(events.Select(e => (string?)e["tags"]!["tid"]), Is.EquivalentTo(new[] { "1", "2", "3", "4" }), "each thread's before_send ran in that thread");
        var profiles = items.Where(i => i.Type == "profile").Select(i => i.Payload).ToList();
        var threadIds = profiles.Select(p => (string?)p["transaction"]!["active_thread_id"]).Distinct().ToList();
        Assert.That(threadIds, Has.Count.EqualTo(4), "four threads, each the active thread of its profile");
        foreach (var p in profiles)
            Assert.That(p["profile"]!["thread_metadata"]!.Children<Newtonsoft.Json.Linq.JProperty>().Select(t => t.Name),
                Does.Contain((string?)p["transaction"]!["active_thread_id"]), "thread_metadata names the thread");
        Assert.That(profiles.SelectMany(p => p["profile"]!["frames"]!).Select(f => (string?)f["function"]),
            Has.Some.EqualTo("main::spin"), "the work is in the profiles");
        world.AssertAllConform();
    }

    [Test]
    public void AgentKilledMidRun_NothingIsLost_TheRunFinishes()
    {
        using var world = new AgentWorld();
        var script = world.Script("steady.pl", """
            use strict; use warnings; use Time::HiRes qw(sleep);
            use Sentry::SDK;
            Sentry::SDK->init({ traces_sample_rate => 1.0 });
            for my $i (1 .. 300) {
                Sentry::SDK->capture_message("msg $i");
                if ($i % 10 == 0) { Sentry::SDK->start_transaction({ name => "tx $i" })->finish }
                sleep 0.01;
            }
            Sentry::SDK->flush(10);
            print "done\n";
            """);
        using var run = new BackgroundProcess("perl", [script], world.Dir, world.Env(), Path.Combine(world.Dir, "steady"));
        var until = DateTime.UtcNow.AddSeconds(10);
        while (world.AgentPid is null && DateTime.UtcNow < until)
            Thread.Sleep(50);
        Thread.Sleep(1200);
        using (var kill = System.Diagnostics.Process.Start("kill", ["-9", world.AgentPid!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            kill.WaitForExit();
        var finished = DateTime.UtcNow.AddSeconds(30);
        while (!run.HasExited && DateTime.UtcNow < finished)
            Thread.Sleep(100);
        Assert.That(run.HasExited && run.ExitCode == 0, Is.True, () => File.ReadAllText(run.Stderr));
        Assert.That(File.ReadAllText(run.Stdout), Is.EqualTo("done\n"));
        world.WaitFor("event", 300, seconds: 30);
        var messages = world.Items().Where(i => i.Type == "event").Select(i => (string?)i.Payload["message"]?["formatted"]).ToHashSet();
        var txs = world.Items().Where(i => i.Type == "transaction").Select(i => (string?)i.Payload["transaction"]).ToHashSet();
        Assert.That(messages, Has.Count.EqualTo(300), () => "every message, once or more (same event id); dropped: " + world.Discarded());
        Assert.That(txs, Has.Count.EqualTo(30));
        var ids = world.Items().Where(i => i.Type == "event").GroupBy(i => (string?)i.Payload["event_id"]);
        Assert.That(ids.All(g => g.Select(i => (string?)i.Payload["message"]?["formatted"]).Distinct().Count() == 1), Is.True,
            "an event sent twice keeps its id, so Sentry keeps one");
    }
    [Test]
    public void AgentSurvivesGarbageOversizeFramesAndHalfFrames_OtherClientsGoOn()
    {
        using var world = new AgentWorld();
        var script = world.Script("capture.pl", """
            use strict; use warnings; use Sentry::SDK;
            Sentry::SDK->init({});
            Sentry::SDK->capture_message("$ARGV[0] $_") for 1 .. 5;
            Sentry::SDK->flush(10);
            print "ok\n";
            """);
        Assert.That(world.Perl(script, "before").Stdout, Is.EqualTo("ok\n"));
        var agent = world.AgentPid;
        Assert.That(agent, Is.Not.Null, "the first client started the agent");
        var random = new byte[4096];
        Random.Shared.NextBytes(random);
        byte[][] attacks =
        [
            random,                                                   // noise
            [0xff, 0xff, 0xff, 0x7f, 2, 1, 2, 3],                     // a frame bigger than any allowed
            [100, 0, 0, 0, 2, 1, 2, 3, 4, 5],                         // half a frame, then gone
            [5, 0, 0, 0, 2, 9, 9, 9, 9],                              // a whole frame, a call before any hello
            [1, 0, 0, 0, 1],                                          // a hello with nothing in it
        ];
        foreach (var bytes in attacks)
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(world.Socket));
            socket.Send(bytes);
            socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            socket.ReceiveTimeout = 5000;
            var buffer = new byte[256];
            try
            {
                while (socket.Receive(buffer) > 0) { }   // the agent answers or hangs up; it does not wait forever
            }
            catch (System.Net.Sockets.SocketException)
            {
                // reset: hung up on
            }
        }
        var after = world.Perl(script, "after");
        Assert.That(after.Stdout, Is.EqualTo("ok\n"), after.Stderr);
        Assert.Multiple(() =>
        {
            Assert.That(world.AgentPid, Is.EqualTo(agent), "the same agent served on");
            Assert.That(world.WaitFor("event", 10), Is.EqualTo(10), "both runs' events arrived");
            Assert.That(after.Stderr, Is.Empty, "the well-behaved client saw nothing of it");
        });
    }
}
