using PerlSentry.Engine.Profiling;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Tests.Profiling;

[NonParallelizable]
public sealed class ProfilerTests
{
    private const string Spin = "use Time::HiRes (); sub spin { my $t = Time::HiRes::time() + $_[0]; 1 while Time::HiRes::time() < $t; 1 } 1";

    [Test]
    public void TwoInterpreters_SampledAtOnce_AreTwoThreadsOfOneProfile()
    {
        using var a = PerlInterpreter.Start();
        using var b = PerlInterpreter.Start();
        a.Eval("package A; " + Spin);
        b.Eval("package B; " + Spin);
        using var profiler = new Profiler(new ProfilerOptions());
        profiler.Attach(a, "worker-a");
        profiler.Attach(b, "worker-b");
        profiler.Start();
        Parallel.Invoke(() => a.Call("A::spin", 0.5), () => b.Call("B::spin", 0.5));
        profiler.Stop();
        var snap = profiler.Store.Snapshot();
        var byThread = snap.Samples.GroupBy(s => s.ThreadId).ToDictionary(g => g.Key, g => g.ToList());
        Assert.That(byThread.Keys, Is.EquivalentTo(new long[] { a.OsThreadId, b.OsThreadId }));
        Assert.That(snap.Threads[a.OsThreadId], Is.EqualTo("worker-a"));
        Assert.That(byThread[a.OsThreadId].All(s => snap.FramesOf(s).First().Function == "A::spin"), Is.True);
        Assert.That(byThread[b.OsThreadId].All(s => snap.FramesOf(s).First().Function == "B::spin"), Is.True);
        Assert.That(byThread[a.OsThreadId].Sum(s => s.Weight), Is.InRange(35, 65), "0.5 s at 101 Hz");
        Assert.That(byThread[b.OsThreadId].Sum(s => s.Weight), Is.InRange(35, 65));
    }

    [Test]
    public void StartStop_ManyCycles_CollectsEveryRunAndNothingBetween()
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval("package C; " + Spin);
        using var profiler = new Profiler(new ProfilerOptions { SamplingIntervalUs = 1000 });
        profiler.Attach(perl, "main");
        for (var i = 0; i < 100; i++)
        {
            profiler.Start();
            perl.Call("C::spin", 0.01);
            profiler.Stop();
            perl.Call("C::spin", 0.005);   // not profiled
        }
        var total = profiler.Store.Snapshot().TotalWeight;
        Assert.That(total, Is.InRange(600, 1300), "about 100 × 10 ms at 1 kHz, none of the 100 × 5 ms between");
    }

    [Test]
    public void InterpreterSampler_KeepsSamplingForItsLinger_ThenStops()
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval("package L; " + Spin);
        var sampler = PerlSentry.Engine.Profiling.Sessions.InterpreterSampler.For(perl, []);
        sampler.Acquire(10_000, 128);
        sampler.Release();
        Assert.That(sampler.IsSampling, Is.True, "the next profile soon finds it running");
        sampler.Acquire(10_000, 128);   // back to back: no stop and start
        perl.Call("L::spin", 0.2);
        sampler.Release();
        var deadline = DateTime.UtcNow + InterpreterSamplerLinger + TimeSpan.FromSeconds(3);   // stopped at a drain (once a second)
        while (sampler.IsSampling && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.That(sampler.IsSampling, Is.False, "stopped once nobody used it for the linger");
        var before = sampler.Store.Snapshot().TotalWeight;
        perl.Call("L::spin", 0.2);
        sampler.Drain();
        Assert.That(sampler.Store.Snapshot().TotalWeight, Is.EqualTo(before), "no samples after it stopped");
        sampler.Acquire(10_000, 128);   // and starts again
        Assert.That(sampler.IsSampling, Is.True);
        sampler.Release();
    }

    [Test]
    public void InterpreterSampler_OfAProgramsInterpreter_StopsFromTheDrainWhileTheProgramRuns()
    {
        // perl-sentry run's shape: the interpreter runs a program on its own thread and takes no
        // marshalled calls, so the drain's thread must stop the sampler without asking that thread.
        Exception? error = null;
        var stopped = false;
        var thread = new Thread(() =>
        {
            try
            {
                using var perl = PerlInterpreter.CreateOnCurrentThread();
                PerlSentry.Engine.Profiling.Sessions.InterpreterSampler? sampler = null;
                perl.DefineSub("T::acquire", (ref PerlCall call) =>
                {
                    sampler = PerlSentry.Engine.Profiling.Sessions.InterpreterSampler.For(perl, []);
                    sampler.Acquire(10_000, 128);
                });
                perl.DefineSub("T::release", (ref PerlCall call) => sampler!.Release());
                perl.DefineSub("T::sampling", (ref PerlCall call) => call.Return(sampler!.IsSampling ? 1L : 0L));
                var until = (InterpreterSamplerLinger + TimeSpan.FromSeconds(4)).TotalSeconds;
                perl.RunProgram(["perl", "-e", Spin + "; T::acquire(); spin(0.1); T::release(); my $end = time + " + until +
                    "; spin(0.05) while T::sampling() && time < $end; exit(T::sampling() ? 3 : 0)"]);
                stopped = !sampler!.IsSampling;
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        Assert.That(error, Is.Null);
        Assert.That(stopped, Is.True, "stopped after its linger, the program still running Perl");
    }

    private static readonly TimeSpan InterpreterSamplerLinger = PerlSentry.Engine.Profiling.Sessions.InterpreterSampler.Linger;

    [Test]
    public void Frames_GetInAppAndAbsolutePaths()
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval("#line 1 \"lib/Mine.pm\"\npackage Mine; use List::Util (); " + Spin + "; sub via_lib { List::Util::first { spin(0.3) } 1 } 1");
        using var profiler = new Profiler(new ProfilerOptions());
        profiler.Attach(perl, "main");
        profiler.Start();
        perl.Call("Mine::via_lib");
        profiler.Stop();
        var frames = profiler.Store.Snapshot().Frames;
        var spin = frames.First(f => f.Function == "Mine::spin");
        Assert.That(spin.InApp, Is.True);
        Assert.That(spin.Module, Is.EqualTo("Mine"));
        Assert.That(spin.AbsPath, Is.EqualTo(Path.GetFullPath("lib/Mine.pm")));
    }
}
