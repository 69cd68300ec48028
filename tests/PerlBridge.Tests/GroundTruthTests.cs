namespace PerlSentry.PerlBridge.Tests;

/// <summary>
/// Sampled stacks against caller()-derived ground truth on tricky code. Each case ends in
/// Truth::busy, which records the executing subs from caller() (innermost first; eval blocks,
/// which are not frames, dropped) and then spins, so that the samples land there.
/// </summary>
[NonParallelizable]
public sealed class GroundTruthTests
{
    private const string Setup = """
        package Truth;
        use Time::HiRes ();
        use List::Util ();
        our @truth;
        sub busy {
            my @subs;
            for (my $i = 0; my @c = caller($i); $i++) { push @subs, $c[3] unless $c[3] eq '(eval)' }
            @truth = @subs;
            my $t = Time::HiRes::time() + 0.15; 1 while Time::HiRes::time() < $t;
            1;
        }
        sub rec { my $n = shift; $n ? rec($n - 1) : busy() }
        sub by_num { busy() if !$Truth::sorted++; $a <=> $b }
        sub Obj::DESTROY { busy() }
        sub Tied::TIESCALAR { bless {}, 'Tied' } sub Tied::FETCH { busy(); 42 }
        package Ov; use overload '""' => sub { Truth::busy(); 'ov' }; sub new { bless {}, shift }
        package Truth;
        sub dies { busy(); die "x\n" }
        sub AUTOLOAD { our $AUTOLOAD; return if $AUTOLOAD =~ /DESTROY/; busy() }
        1;
        """;

    private static readonly string[] Cases =
    [
        "Truth::rec(5)",
        "eval q{ Truth::busy() }",
        "my @s = sort Truth::by_num 3, 1, 2",
        "my @m = map { Truth::busy() } 1",
        "my @g = grep { Truth::busy() } 1",
        "List::Util::first { Truth::busy() } 1",
        "{ my $o = bless {}, 'Obj'; }",
        "tie my $v, 'Tied'; my $x = $v",
        "my $s = '' . Ov->new",
        "eval { Truth::dies() }",
        "my $code = sub { Truth::busy() }; $code->()",
        "Truth::undefined_thing()",
        "sub Truth::gotoer { goto &Truth::busy } Truth::gotoer()",
    ];

    [TestCaseSource(nameof(Cases))]
    public void SampledStack_MatchesCallerTruth(string code)
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval(Setup);
        perl.StartSampling(TimeSpan.FromMicroseconds(500), 100);
        perl.Eval("package main; " + code + "; 1");
        perl.StopSampling();
        var samples = new List<PerlSample>();
        perl.DrainSamples(samples);
        var truth = perl.EvalList("@Truth::truth").Cast<string>().Select(Bare).ToList();
        var inBusy = samples.Where(s => s.Frames[0].Name == "Truth::busy").ToList();
        Assert.That(inBusy, Is.Not.Empty, "samples landed in busy");
        var sampled = inBusy.GroupBy(s => string.Join(" < ", s.Frames.Select(f => f.Name))).OrderByDescending(g => g.Sum(s => s.Weight)).First().First();
        var names = sampled.Frames.Select(f => f.Name).Where(n => n != "main" && !n.StartsWith('(')).Select(Bare).ToList();
        Assert.That(names, Is.EqualTo(truth), string.Join(" < ", sampled.Frames.Select(f => $"{f.Name}@{f.File}:{f.Line}")));
        Assert.That(sampled.Frames[^1].Name, Is.EqualTo("main"), "main at the bottom");
    }

    [Test]
    public void StringEvalCode_IsPlacedWhereTheEvalRan_WithTheSameNameEveryTime()
    {
        using var perl = PerlInterpreter.Start();
        perl.Eval(Setup);
        perl.Eval("#line 40 \"/srv/app/Maker.pm\"\npackage Maker; sub make { eval 'sub { Truth::busy() }' or die $@ }\n" +
                  "package main; our @made = (Maker::make(), Maker::make()); 1");
        perl.StartSampling(TimeSpan.FromMicroseconds(500), 100);
        perl.Eval("$_->() for @main::made; 1");
        perl.StopSampling();
        var samples = new List<PerlSample>();
        perl.DrainSamples(samples);
        var made = samples.Where(s => s.Frames.Length > 1 && s.Frames[0].Name == "Truth::busy").Select(s => s.Frames[1]).ToList();
        Assert.That(made, Is.Not.Empty, "samples landed in the eval-made subs");
        Assert.Multiple(() =>
        {
            Assert.That(made.Select(f => f.Name).Distinct(), Is.EqualTo(new[] { "Maker::__ANON__[/srv/app/Maker.pm:40]" }),
                "both subs one name, the eval's place, not (eval N)");
            Assert.That(made.Select(f => (f.File, f.Line)).Distinct(), Is.EqualTo(new[] { ("/srv/app/Maker.pm", 40) }),
                "its code is placed where the eval ran (this test's own calls, evals from C, keep perl's names)");
        });
    }

    /// <summary>Sampled anon subs carry [file:line]; caller() says only __ANON__.</summary>
    private static string Bare(string name) => name.Contains('[') ? name[..name.IndexOf('[')] : name;
}
