namespace PerlSentry.PerlBridge.Tests;

[NonParallelizable]
public sealed class SamplingTests
{
    private static List<PerlSample> Sample(PerlInterpreter perl, string code, int hz = 101, int maxDepth = 100)
    {
        perl.StartSampling(TimeSpan.FromSeconds(1.0 / hz), maxDepth);
        perl.Eval(code);
        perl.StopSampling();
        var samples = new List<PerlSample>();
        perl.DrainSamples(samples);
        return samples;
    }

    [Test]
    public void PrepareSampling_DecodesRecordsInTheShimsLayout_WithoutAnInterpreter()
    {
        var samples = PerlInterpreter.PrepareSampling();
        Assert.That(samples, Has.Count.EqualTo(2));
        Assert.That(samples[0].Frames, Is.EqualTo(new[] { new PerlFrame("main::warm_up", "warm-up.pl", 2), new PerlFrame("main", "warm-up.pl", 1) }));
        Assert.That(samples.Select(s => (s.MonotonicNs, s.Weight, s.Truncated, s.IsMarker)),
            Is.EqualTo(new[] { (1_000_000L, 1, false, false), (2_000_000L, 1, true, false) }), "flags 1: truncated");
    }

    [Test]
    public void BusyLoop_IsSampledInTheRightSub_AtTheRightLine()
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval("use Time::HiRes ();\n#line 1 \"busy.pl\"\npackage Busy;\nsub spin {\n  my $t = Time::HiRes::time() + 1; my $n = 0;\n  $n++ while Time::HiRes::time() < $t;\n  $n }\nsub outer { spin() }\n1");
        var samples = Sample(perl, "#line 1 \"main.pl\"\nBusy::outer(); 1");
        Assert.That(samples.Sum(s => s.Weight), Is.InRange(70, 130), "about 101 ticks in one second");
        var inner = samples.Where(s => s.Frames.Length > 0 && s.Frames[0].Name == "Busy::spin").ToList();
        Assert.That(inner.Sum(s => s.Weight), Is.GreaterThan(samples.Sum(s => s.Weight) * 0.9));
        var f = inner[0].Frames;
        Assert.That(f[0], Is.EqualTo(new PerlFrame("Busy::spin", "busy.pl", 4)));
        Assert.That(f[1], Is.EqualTo(new PerlFrame("Busy::outer", "busy.pl", 6)));
        Assert.That(f[2].Name, Is.EqualTo("(eval)[main.pl:0]").Or.StartsWith("(eval)["));
        Assert.That(f[^1].Name, Is.EqualTo("main"));
    }

    [Test]
    public void Sleep_AtTheEndOfASub_IsChargedToThatSub()
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval("package Slp; sub nap { my $x = 1; select(undef, undef, undef, 0.5) } sub caller_of_nap { nap(); 1 } 1");
        var samples = Sample(perl, "Slp::caller_of_nap()");
        var total = samples.Sum(s => s.Weight);
        var inNap = samples.Where(s => s.Frames[0].Name == "Slp::nap").Sum(s => s.Weight);
        Assert.That(total, Is.InRange(35, 70));
        Assert.That(inNap, Is.GreaterThanOrEqualTo(total - 2), "the blocked time lands on nap, not on its caller");
        Assert.That(samples.First(s => s.Frames[0].Name == "Slp::nap").Weight, Is.GreaterThan(30), "one sample carries the ticks it stands for");
    }

    [Test]
    public void AnonSub_And_StringEval_AreNamed()
    {
        using var perl = PerlInterpreter.Start();
        // Time::HiRes: a spin on whole seconds could end at once (right before a second turns).
        perl.Eval("use Time::HiRes ();\n#line 10 \"anon.pl\"\npackage An;\nour $code = sub {\n  my $t = Time::HiRes::time() + 0.4; 1 while Time::HiRes::time() < $t; 1 };\n1");
        var samples = Sample(perl, "#line 3 \"ev.pl\"\neval q{ $An::code->() }; 1");
        var frames = samples.Where(s => s.Weight > 0).SelectMany(s => s.Frames).Select(f => f.Name).Distinct().ToList();
        Assert.That(frames, Does.Contain("An::__ANON__[anon.pl:12]"));
        Assert.That(frames, Does.Contain("(eval)[ev.pl:3]"));
    }

    [Test]
    public void MaxDepth_KeepsTheInnermostFrames()
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval("package Deep; sub down { my $n = shift; if ($n) { return down($n - 1) } my $t = time + 0.3; 1 while time < $t; 1 } 1");
        var samples = Sample(perl, "Deep::down(60)", maxDepth: 10);
        Assert.That(samples, Is.Not.Empty);
        Assert.That(samples.All(s => s.Frames.Length == 10 && s.Truncated), Is.True);
        Assert.That(samples.All(s => s.Frames.All(f => f.Name == "Deep::down")), Is.True);
    }

    [Test]
    public void Sampling_LeavesAlarmAndSignalsToTheUser()
    {
        using var perl = PerlInterpreter.Start();
        perl.ClaimSignals();
        perl.StartSampling(TimeSpan.FromMilliseconds(5), 100);
        var r = perl.Eval("my $n = 0; local $SIG{USR1} = sub { $n++ }; kill USR1 => $$ for 1 .. 3; my $t = time + 0.3; 1 while time < $t && $n < 3; my $r = eval { local $SIG{ALRM} = sub { die \"alarm\\n\" }; alarm 1; sleep 3; 1 }; \"$n $@\"");
        perl.StopSampling();
        Assert.That(r, Is.EqualTo("1 alarm\n").Or.EqualTo("2 alarm\n").Or.EqualTo("3 alarm\n"));
    }

    [Test]
    public void StartStop_ManyTimes_KeepsWorking()
    {
        using var perl = PerlInterpreter.Start();
        var total = 0;
        for (var i = 0; i < 50; i++)
            total += Sample(perl, "use Time::HiRes (); my $t = Time::HiRes::time() + 0.02; 1 while Time::HiRes::time() < $t; 1", hz: 1000).Count;
        Assert.That(total, Is.GreaterThan(50));
    }
}
