namespace PerlSentry.Cli.Tests;

/// <summary>Every tests/compat script gives the same stdout, stderr and exit status under perl and perl-sentry run.</summary>
[Parallelizable(ParallelScope.Children)]
public sealed class CompatTests
{
    private static readonly Dictionary<string, string> Env = new() { ["COMPAT_VAR"] = "xyz" };

    private static IEnumerable<TestCaseData> Cases() =>
        CompatCase.All().Select(c => new TestCaseData(c.Name).SetName($"Compat_{Path.GetFileNameWithoutExtension(c.Name)}_SameAsPerl"));

    [TestCaseSource(nameof(Cases))]
    public void Script_UnderHost_BehavesAsUnderPerl(string name)
    {
        var c = CompatCase.Load(Path.Combine(CompatCase.Directory, name));
        var perl = ProcessRunner.Run("perl", c.CommandTail(), CompatCase.Directory, c.Stdin, Env);
        var host = ProcessRunner.Run(Repo.PerlSentry, ["run", .. c.CommandTail()], CompatCase.Directory, c.Stdin, Env);
        Assert.Multiple(() =>
        {
            Assert.That(host.Stdout, Is.EqualTo(perl.Stdout), "stdout");
            Assert.That(host.Stderr, Is.EqualTo(perl.Stderr), "stderr");
            Assert.That(host.ExitCode, Is.EqualTo(perl.ExitCode), "exit status");
        });
    }

    [Test]
    public void Corpus_CoversTheDropInCases()
    {
        var names = CompatCase.All().Select(c => c.Name).ToHashSet();
        string[] required = ["argv.pl", "stdin.pl", "env.pl", "exit_status.pl", "die_toplevel.pl", "end_blocks.pl",
            "warn.pl", "alarm_timeout.pl", "sleep.pl", "kill_usr1.pl", "fork_waitpid.pl", "system_backticks.pl",
            "xs_modules.pl", "utf8_output.pl", "switches.pl", "e_code.pl"];
        Assert.That(required.Where(r => !names.Contains(r)), Is.Empty);
    }
}
