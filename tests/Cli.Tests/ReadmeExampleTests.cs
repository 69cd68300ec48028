using System.Text.RegularExpressions;
using NUnit.Framework;

namespace PerlSentry.Cli.Tests;

/// <summary>
/// The README's SDK example, as written there, run under plain <c>perl</c> (the agent) and under
/// <c>perl-sentry run</c> (in-process): the same envelopes reach Sentry either way.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed partial class ReadmeExampleTests
{
    [GeneratedRegex(@"## The Sentry SDK.*?```perl\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SdkExample();

    /// <summary>The example's code; it calls two subs of the reader's program, given here.</summary>
    private static string Script()
    {
        var readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));
        var m = SdkExample().Match(readme);
        Assert.That(m.Success, Is.True, "the README has a perl block under 'The Sentry SDK'");
        return m.Groups[1].Value + """
            sub work { die "disk full\n" }
            sub build_report { my $x = 0; $x += $_ % 7 for 1 .. 300_000; $x }
            print "done\n";
            """;
    }

    private static List<string> Run(bool hosted)
    {
        using var world = new AgentWorld();
        var path = world.Script("example.pl", Script());
        var r = hosted ? world.Hosted(path) : world.Perl(path);
        Assert.That((r.ExitCode, r.Stdout), Is.EqualTo((0, "done\n")), r.Stderr);
        Assert.That(r.Stderr, Is.Empty);
        world.WaitFor("transaction", 2);
        world.WaitFor("profile", 2);
        world.AssertAllConform();
        return [.. world.Items().Select(i => i.Type).Where(t => t != "client_report").Order()];
    }

    [Test]
    public void SdkExample_SameEnvelopesUnderPerlAndUnderPerlSentryRun()
    {
        var plain = Run(hosted: false);
        var hosted = Run(hosted: true);
        Assert.Multiple(() =>
        {
            Assert.That(plain, Is.EqualTo(hosted), "the same item types and counts");
            Assert.That(hosted, Is.EqualTo(new[] { "event", "profile", "profile", "transaction", "transaction" }),
                "the die as an event; the transaction with its profile; the profile() block, a transaction with its profile");
        });
    }
}
