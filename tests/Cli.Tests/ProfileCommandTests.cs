using PerlSentry.Engine.Tests.Sentry;

namespace PerlSentry.Cli.Tests;

public sealed class ProfileCommandTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("ps-prof").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, true);

    private static string Script(string dir)
    {
        var path = Path.Combine(dir, "work.pl");
        File.WriteAllText(path, """
            use Time::HiRes ();
            sub spin { my $t = Time::HiRes::time() + $_[0]; 1 while Time::HiRes::time() < $t }
            sub heavy { spin(0.6) }
            sub light { spin(0.2) }
            sub wait_io { select(undef, undef, undef, 0.3) }
            heavy(); light(); wait_io();
            print "out\n";
            exit 3;
            """);
        return path;
    }

    [Test]
    public void Profile_WritesOutputs_PrintsTopFunctions_KeepsStdoutAndStatus()
    {
        var dir = _dir;
        var outDir = Path.Combine(dir, "out");
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", outDir, Script(dir)], dir, timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.Stderr);
        Assert.That(r.Stdout, Is.EqualTo("out\n"), "the program's stdout is its own");
        Assert.That(r.Stderr, Does.Match(@"main::heavy\s").And.Contain("main::wait_io").And.Contain("self %"));
        foreach (var f in new[] { "flamegraph.html", "lines.html", "profile.speedscope.json", "profile.collapsed.txt", "profile_chunk-1.envelope" })
            Assert.That(File.Exists(Path.Combine(outDir, f)), f);
        Assert.That(EnvelopeConformance.Check(File.ReadAllBytes(Path.Combine(outDir, "profile_chunk-1.envelope"))), Is.Empty);
        var collapsed = File.ReadAllLines(Path.Combine(outDir, "profile.collapsed.txt"))
            .Select(l => (Stack: l[..l.LastIndexOf(' ')], N: int.Parse(l[(l.LastIndexOf(' ') + 1)..]))).ToList();
        int Ticks(string leaf) => collapsed.Where(c => c.Stack.EndsWith(leaf, StringComparison.Ordinal)).Sum(c => c.N);
        var heavy = Ticks("main::heavy;main::spin");
        var light = Ticks("main::light;main::spin");
        var wait = Ticks("main::wait_io");
        Assert.That(heavy, Is.InRange(45, 75), "0.6 s at 101 Hz");
        Assert.That(light, Is.InRange(12, 28), "0.2 s");
        Assert.That(wait, Is.InRange(22, 38), "0.3 s, blocked in select, charged to wait_io");
    }

    [Test]
    public void Profile_ExistingOutputDir_IsNotOverwrittenSilently()
    {
        var dir = _dir;
        File.WriteAllText(Path.Combine(dir, "keep.txt"), "x");
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", dir, "-e", "1"], dir);
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain("exists and is not empty").And.Contain("--force"));
        Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1));
    }

    [TestCase("--hz", "0", "--hz takes a whole number from 1 to 10000")]
    [TestCase("--format", "svg", "unknown format 'svg'")]
    public void Profile_BadOption_SaysWhatToFix(string flag, string value, string message)
    {
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", flag, value, "-e", "1"], Repo.Root);
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain(message));
    }

    [Test]
    public void Profile_TimeInsideAnXsSub_LandsOnItsCaller()
    {
        var dir = _dir;
        File.WriteAllText(Path.Combine(dir, "xs.pl"), """
            use Digest::SHA ();
            my $data = "x" x 20_000_000;
            sub hashy { Digest::SHA::sha256_hex($data) }
            sub outer { hashy() for 1 .. 4; 1 }
            outer();
            """);
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", Path.Combine(dir, "out"), "--format", "collapsed", "xs.pl"], dir, timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        var lines = File.ReadAllLines(Path.Combine(dir, "out", "profile.collapsed.txt"));
        int Ticks(string stack) => lines.Where(l => l[..l.LastIndexOf(' ')] == stack).Sum(l => int.Parse(l[(l.LastIndexOf(' ') + 1)..]));
        Assert.That(Ticks("main;main::outer;main::hashy"), Is.GreaterThan(5));
        Assert.That(Ticks("main;main::outer"), Is.LessThanOrEqualTo(2), "not charged to the caller of the sub that made the XS call");
    }
    [Test]
    public void Profile_OfAProgramRunningProfiledTransactions_CountsOnlyTheTimersTicks()
    {
        // Each profiled transaction takes a marker at its start and end, inside the SDK's calls: they are
        // its profile's first and last samples, not ticks. Before, 3,000 of them made thousands of ticks
        // on the SDK's call sites (and each transaction walked every sample the run had kept).
        var dir = _dir;
        File.WriteAllText(Path.Combine(dir, "tx.pl"), """
            use Sentry::SDK;
            use Time::HiRes ();
            Sentry::SDK->init({ dsn => 'http://k@127.0.0.1:9/1', envelope_dir => 'env', traces_sample_rate => 1, profiles_sample_rate => 1 });
            my $t0 = Time::HiRes::time();
            for (1 .. 3000) { my $tx = Sentry::SDK->start_transaction({ name => 'job', op => 'task' }); $tx->finish }
            printf STDERR "elapsed %.3f\n", Time::HiRes::time() - $t0;
            """);
        var outDir = Path.Combine(dir, "out");
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", outDir, "--format", "collapsed", "tx.pl"], dir, timeoutMs: 120_000);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        var m = System.Text.RegularExpressions.Regex.Match(r.Stderr, @"(\d+) samples \((\d+) ticks, ([\d.]+) s at 101 Hz\)");
        Assert.That(m.Success, r.Stderr);
        var run = double.Parse(System.Text.RegularExpressions.Regex.Match(r.Stderr, @"elapsed ([\d.]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var ticks = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(ticks, Is.LessThan((run + 1.5) * 101 * 1.5), $"at most the timer's ticks over the run ({run:F2} s of transactions): {m.Value}");
        var collapsed = File.ReadAllText(Path.Combine(outDir, "profile.collapsed.txt"));
        Assert.That(collapsed, Does.Not.Match(@" 0\r?\n"), "no stack of no ticks");
    }

    [Test]
    public void Profile_EndBlocksAndStringEvals_HaveStableNamesAndRealPlaces()
    {
        var dir = _dir;
        File.WriteAllText(Path.Combine(dir, "ev.pl"), """
            sub spin { my $t = 0; $t += $_ % 7 for 1 .. 400_000; $t }
            my @made = map { eval 'sub { spin() for 1 .. 3 }' } 1 .. 2;
            $_->() for @made;
            eval q{ spin() for 1 .. 3 };
            END { spin() for 1 .. 3 }
            """);
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", Path.Combine(dir, "out"), "--format", "collapsed", "ev.pl"], dir, timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        var stacks = File.ReadAllLines(Path.Combine(dir, "out", "profile.collapsed.txt")).Select(l => l[..l.LastIndexOf(' ')]).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(stacks, Has.Some.EqualTo("main;main::__ANON__[ev.pl:2];main::spin"), "a sub a string eval made: named by the eval's place");
            Assert.That(stacks.Where(s => s.Contains("__ANON__")).Select(s => s.Split(';')[1]).Distinct().Count(), Is.EqualTo(1), "the same name for both");
            Assert.That(stacks, Has.Some.EqualTo("main;(eval)[ev.pl:4];main::spin"));
            Assert.That(stacks, Has.None.Contains("(eval "), "no eval numbers");
            Assert.That(stacks, Has.Some.StartsWith("main::END;main::spin"), "an END block is a root of its own");
            Assert.That(stacks, Has.None.Contains("main;main::END"));
        });
    }
    [Test]
    public void Profile_StoppedByTerm_KeepsWhatWasSampled_AndEndsAsTheSignalWould()
    {
        var dir = _dir;
        File.WriteAllText(Path.Combine(dir, "forever.pl"), """
            sub spin { my $t = 0; $t += $_ % 7 for 1 .. 10_000; $t }
            open my $fh, '>', 'ready' or die; close $fh;
            spin() while 1;
            """);
        using var p = new BackgroundProcess(Repo.PerlSentry, ["profile", "-o", "out", "--format", "collapsed", "forever.pl"], dir,
            new Dictionary<string, string>(), Path.Combine(dir, "log"));
        var until = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(Path.Combine(dir, "ready")) && DateTime.UtcNow < until && !p.HasExited)
            Thread.Sleep(50);
        Thread.Sleep(1500);   // samples of the spin (under a loaded machine, a second may hold few)
        var status = p.Stop();
        var stderr = File.ReadAllText(p.Stderr);
        Assert.That(status, Is.EqualTo(128 + 15), "killed by TERM, as plain perl would be: " + stderr);
        var collapsed = File.ReadAllLines(Path.Combine(dir, "out", "profile.collapsed.txt"));
        Assert.That(collapsed, Has.Some.StartsWith("main;main::spin "), "what was sampled until the signal; stderr: " + stderr);
        Assert.That(File.ReadAllText(p.Stderr), Does.Contain("stopped by SIGTERM"));
    }

    [Test]
    public void Profile_ProgramEndingInExec_AfterChdir_WritesWhereOWasMeant_KeepsTheStatus()
    {
        var dir = _dir;
        File.WriteAllText(Path.Combine(dir, "ex.pl"), """
            sub spin { my $t = 0; $t += $_ % 7 for 1 .. 3_000_000; $t }
            spin();
            chdir '/' or die;
            exec '/bin/sh', '-c', 'exit 5';
            """);
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", "out", "--format", "collapsed", "ex.pl"], dir, timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.EqualTo(5), r.Stderr);
        Assert.That(File.ReadAllLines(Path.Combine(dir, "out", "profile.collapsed.txt")), Has.Some.StartsWith("main;main::spin "));
        Assert.That(r.Stderr, Does.Contain("the program called exec"));
    }

    [Test]
    public void Profile_OutputThatCannotBeWritten_IsRefusedBeforeTheProgramRuns()
    {
        var dir = _dir;
        File.WriteAllText(Path.Combine(dir, "ran.pl"), "open my $fh, '>', 'ran' or die; exit 5;\n");
        File.WriteAllText(Path.Combine(dir, "a-file"), "");
        var r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", "a-file/out", "ran.pl"], dir, timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.Stderr);
        Assert.That(r.Stderr, Does.Contain("cannot write the profile to " + Path.Combine(dir, "a-file", "out")).And.Contain("choose another -o"));
        Assert.That(File.Exists(Path.Combine(dir, "ran")), Is.False, "the program did not run");
    }
}
