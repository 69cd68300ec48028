using System.Diagnostics;
using PerlSentry.Hosting;
using PerlSentry.PerlBridge;

namespace PerlSentry.Hosting.Tests;

/// <summary>The interpreter pool, with real interpreters: concurrency, errors, cancellation, the queue's bound, stopping.</summary>
[TestFixture]
public sealed class PerlPoolTests
{
    private string _app = null!;

    [SetUp]
    public void SetUp()
    {
        _app = Path.Combine(Path.GetTempPath(), $"perlsentry-pool-{Guid.NewGuid():N}.pl");
        File.WriteAllText(_app, """
            package App;
            use Time::HiRes ();
            our $ID = join '-', $$, int rand 1e9;     # one per interpreter
            our $CALLS = 0;
            sub who { $CALLS++; return $ID }
            sub slow { my ($s) = @_; my $t0 = Time::HiRes::time(); Time::HiRes::sleep($s); return { id => $ID, from => $t0, to => Time::HiRes::time() } }
            sub add { my ($x, $y) = @_; return $x + $y }
            sub fail { die "no such order: $_[0]\n" }
            sub calls { $CALLS }
            sub reactor { ref Mojo::IOLoop->singleton->reactor }
            sub spin { my $n = 0; 1 while ++$n }
            sub stubborn { while (1) { eval { 1 while 1 } } }
            1;
            """);
    }

    [TearDown]
    public void TearDown() => File.Delete(_app);

    private PerlPool Start(int n, int maxQueued = 1000, TimeSpan? timeout = null)
    {
        var options = new PerlPoolOptions { Interpreters = n, AppFile = _app, MaxQueued = maxQueued, CallTimeout = timeout, StopGrace = TimeSpan.FromMilliseconds(500) };
        options.Modules.Add("List::Util");
        return PerlPool.Start(options);
    }

    [Test]
    public async Task Mojolicious_InEveryInterpreter_UsesItsPurePerlReactor_NotEV()
    {
        // EV keeps the C state of one interpreter: a second one crashed in it (Perl_mg_get from EV.so).
        var options = new PerlPoolOptions { Interpreters = 2, AppFile = _app };
        options.Modules.Add("Mojolicious::Lite");
        for (var round = 0; round < 2; round++)   // and again after the first pool's interpreters are gone
        {
            await using var pool = PerlPool.Start(options);
            var reactors = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => pool.InvokeAsync("Mojo::IOLoop::singleton", ["Mojo::IOLoop"])));
            foreach (var loop in reactors)
                Assert.That(((PerlRef)loop!).ClassName, Is.EqualTo("Mojo::IOLoop"));
            Assert.That(await pool.InvokeAsync("App::reactor", []), Is.EqualTo("Mojo::Reactor::Poll"));
        }
    }

    [Test]
    public async Task ConcurrentCalls_RunOnDifferentInterpreters_AtTheSameTime()
    {
        await using var pool = Start(2);
        Assert.That(await pool.InvokeAsync("App::add", [2L, 40L]), Is.EqualTo(42L));
        var watch = Stopwatch.StartNew();
        var calls = Enumerable.Range(0, 2).Select(_ => pool.InvokeAsync("App::slow", [0.4])).ToArray();
        var results = (await Task.WhenAll(calls)).Cast<IDictionary<string, object?>>().ToList();
        Assert.That(results.Select(r => r["id"]).Distinct().Count(), Is.EqualTo(2), "one call per interpreter");
        Assert.That(Convert.ToDouble(results[0]["from"]), Is.LessThan(Convert.ToDouble(results[1]["to"])));
        Assert.That(Convert.ToDouble(results[1]["from"]), Is.LessThan(Convert.ToDouble(results[0]["to"])), "they overlapped");
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(0.75)));
    }

    [Test]
    public async Task ADie_IsAPerlException_AndTheInterpreterGoesOn()
    {
        await using var pool = Start(1);
        var e = Assert.ThrowsAsync<PerlException>(() => pool.InvokeAsync("App::fail", ["A-17"]));
        Assert.That(e!.Message, Is.EqualTo("no such order: A-17"));
        var missing = Assert.ThrowsAsync<PerlException>(() => pool.InvokeAsync("App::nope", []));
        Assert.That(missing!.Message, Does.Contain("App::nope"));
        Assert.That(await pool.InvokeAsync("App::add", [1L, 1L]), Is.EqualTo(2L));
    }

    [Test]
    public async Task ACallCancelledWhileWaiting_NeverRuns()
    {
        await using var pool = Start(1);
        var before = (long)(await pool.InvokeAsync("App::calls", []))!;
        var busy = pool.InvokeAsync("App::slow", [0.5]);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.CatchAsync<OperationCanceledException>(() => pool.InvokeAsync("App::who", [], cancel.Token));
        await busy;
        Assert.That(await pool.InvokeAsync("App::calls", []), Is.EqualTo(before), "App::who never ran");
    }

    [Test]
    public async Task PastTheQueuesBound_ACallIsRefusedAtOnce_WithWhatToDo()
    {
        await using var pool = Start(1, maxQueued: 1);
        var running = pool.InvokeAsync("App::slow", [0.4]);
        var waiting = pool.InvokeAsync("App::add", [1L, 2L]);
        var e = Assert.ThrowsAsync<PerlPoolFullException>(() => pool.InvokeAsync("App::add", [1L, 2L]));
        Assert.That(e!.Message, Does.Contain("MaxQueued"));
        await running;
        Assert.That(await waiting, Is.EqualTo(3L));
    }

    [Test]
    public async Task Stopping_LetsRunningCallsFinish_AndRefusesWaitingAndNewOnes()
    {
        var pool = Start(1);
        var running = pool.InvokeAsync("App::slow", [0.3]);
        await Task.Delay(50);
        var waiting = pool.InvokeAsync("App::add", [1L, 2L]);
        await pool.DisposeAsync();
        Assert.That(running.IsCompletedSuccessfully, Is.True, "the running call finished");
        Assert.ThrowsAsync<ObjectDisposedException>(() => waiting);
        Assert.ThrowsAsync<ObjectDisposedException>(() => pool.InvokeAsync("App::add", [1L, 2L]));
    }

    [Test]
    public async Task ATimeout_StopsARunawayLoop_AndTheInterpreterServesTheNextCall()
    {
        await using var pool = Start(1, timeout: TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();
        var e = Assert.ThrowsAsync<TimeoutException>(() => pool.InvokeAsync("App::spin", []));
        Assert.That(e!.Message, Does.StartWith("App::spin ran longer than 0.3 s (PerlPoolOptions.CallTimeout) and was stopped at "));
        Assert.That(e.Message, Does.Contain(Path.GetFileName(_app)), "where it was stopped");
        Assert.That(e.InnerException, Is.InstanceOf<PerlException>());
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)));
        Assert.That(await pool.InvokeAsync("App::add", [1L, 1L]), Is.EqualTo(2L));
        Assert.That(await pool.InvokeAsync("App::slow", [0.1]), Is.Not.Null, "a call under the limit is not stopped");
        Assert.That(pool.Replaced, Is.Zero);
    }

    [Test]
    public async Task CodeThatWillNotStop_LosesItsInterpreter_AFreshOneTakesItsPlace()
    {
        await using var pool = Start(1, timeout: TimeSpan.FromMilliseconds(300));
        var before = await pool.InvokeAsync("App::who", []);
        var e = Assert.ThrowsAsync<TimeoutException>(() => pool.InvokeAsync("App::stubborn", []));
        Assert.That(e!.Message, Does.Contain("interpreter was replaced"));
        Assert.That(pool.Replaced, Is.EqualTo(1));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var after = await pool.InvokeAsync("App::who", [], cancel.Token);
        Assert.That(after, Is.Not.EqualTo(before), "a fresh interpreter (its own $ID)");
        Assert.That(await pool.InvokeAsync("App::add", [2L, 2L]), Is.EqualTo(4L));
    }

    [Test]
    public async Task ManyCallers_WithCancellationsAndTimeouts_EveryCallEnds_AndThePoolGoesOn()
    {
        var pool = Start(2, maxQueued: 50, timeout: TimeSpan.FromMilliseconds(200));
        var calls = new List<Task<object?>>();
        var cancels = new List<CancellationTokenSource>();
        for (var i = 0; i < 300; i++)
        {
            var cancel = new CancellationTokenSource();
            cancels.Add(cancel);
            calls.Add(i % 50 == 7 ? pool.InvokeAsync("App::spin", [], cancel.Token)   // stopped by the timeout
                : pool.InvokeAsync("App::slow", [0.002], cancel.Token));
            if (i % 3 == 0)
                cancel.CancelAfter(i % 2 == 0 ? 0 : 5);
        }
        var all = Task.WhenAll(calls.Select(c => c.ContinueWith(_ => 0, TaskScheduler.Default)));
        Assert.That(await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60))), Is.SameAs(all), "every call ended");
        var outcomes = calls.Select(c => c.Status == TaskStatus.RanToCompletion ? "ok"
            : c.Exception?.InnerException switch
            {
                PerlPoolFullException => "full",
                TimeoutException => "timeout",
                null => "cancelled",
                var e => e.GetType().Name,
            }).GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(outcomes.Keys, Is.SubsetOf(new[] { "ok", "full", "timeout", "cancelled" }), string.Join(", ", outcomes));
        Assert.That(outcomes.GetValueOrDefault("ok"), Is.GreaterThan(0));
        Assert.That(outcomes.GetValueOrDefault("timeout"), Is.GreaterThan(0), "the runaway calls that ran were stopped");
        Assert.That(pool.Waiting, Is.Zero);
        Assert.That(await pool.InvokeAsync("App::add", [20L, 22L]), Is.EqualTo(42L), "still serving");
        var stop = pool.DisposeAsync().AsTask();
        Assert.That(await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(30))), Is.SameAs(stop), "stops");
        foreach (var c in cancels)
            c.Dispose();
    }

    [Test]
    public void BadOptionsAndCodeThatDoesNotLoad_FailAtStart_SayingWhat()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => PerlPool.Start(new PerlPoolOptions { Interpreters = 0 }))!.Message,
            Does.Contain("Interpreters"));
        var broken = Path.Combine(Path.GetTempPath(), $"perlsentry-pool-broken-{Guid.NewGuid():N}.pl");
        File.WriteAllText(broken, "sub ok { 1 }\nsub broken { my $x = ; }\n1;\n");
        try
        {
            var e = Assert.Throws<PerlException>(() => PerlPool.Start(new PerlPoolOptions { Interpreters = 2, AppFile = broken }));
            Assert.That(e!.Message, Does.Contain("cannot load").And.Contain(Path.GetFileName(broken)).And.Contain("line 2"));
        }
        finally
        {
            File.Delete(broken);
        }
        var options = new PerlPoolOptions { Interpreters = 1 };
        options.Modules.Add("No::Such::Module");
        Assert.That(Assert.Throws<PerlException>(() => PerlPool.Start(options))!.Message, Does.Contain("No/Such/Module.pm"));
    }
}
