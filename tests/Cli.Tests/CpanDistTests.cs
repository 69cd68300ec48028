using NUnit.Framework;

namespace PerlSentry.Cli.Tests;

/// <summary>
/// The CPAN-style distribution as a Perl user meets it: the files MANIFEST lists, copied to a fresh
/// folder, then <c>perl Makefile.PL &amp;&amp; make &amp;&amp; make test</c>, <c>make distcheck</c>,
/// <c>make dist</c> and <c>make install</c> — with the real agent, and without any engine.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class CpanDistTests
{
    private string _dir = null!;
    private string _agentDir = null!;

    [OneTimeSetUp]
    public void CopyTheDistribution()
    {
        _dir = Directory.CreateTempSubdirectory("perlsentry-dist-").FullName;
        _agentDir = Directory.CreateTempSubdirectory("perlsentry-dist-agent-").FullName;
        File.SetUnixFileMode(_agentDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var line in File.ReadAllLines(Path.Combine(Repo.Root, "MANIFEST")))
        {
            var file = line.Split([' ', '\t'], 2)[0];
            if (file.Length == 0 || file.StartsWith('#'))
                continue;
            var to = Path.Combine(_dir, file);
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(Path.Combine(Repo.Root, file), to);
        }
        var configure = Sh("perl Makefile.PL && make", Env());
        Assert.That(configure.ExitCode, Is.EqualTo(0), configure.Stdout + configure.Stderr);
        Assert.That(configure.Stdout, Does.Contain("PerlSentry::Client will start the agent with " + Repo.PerlSentry));
    }

    [OneTimeTearDown]
    public void StopTheAgent()
    {
        var pid = Path.Combine(_agentDir, "agent.sock.pid");
        if (File.Exists(pid) && int.TryParse(File.ReadAllText(pid).Trim(), out var p))
            Sh($"kill {p} 2>/dev/null || true", Env());
        Directory.Delete(_dir, true);
        Directory.Delete(_agentDir, true);
    }

    private Dictionary<string, string> Env(string? agentBin = null) => new()
    {
        ["PERLSENTRY_AGENT_BIN"] = agentBin ?? Repo.PerlSentry,
        ["PERLSENTRY_AGENT"] = Path.Combine(_agentDir, "agent.sock"),
        ["PERL5LIB"] = "",
    };

    private ProcessResult Sh(string command, Dictionary<string, string> env) =>
        ProcessRunner.Run("sh", ["-c", command], _dir, env: env, timeoutMs: 240_000);

    [Test]
    public void MakeTest_RunsTheSuiteUnderPlainPerl_ThroughTheAgent()
    {
        var r = Sh("make test", Env());
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        Assert.Multiple(() =>
        {
            Assert.That(r.Stdout, Does.Contain("Result: PASS"));
            Assert.That(r.Stdout, Does.Match(@"perl/t/10-sdk\.t \.+ ok"), "the SDK tests ran, not skipped");
            Assert.That(r.Stdout, Does.Match(@"perl/t/20-never-breaks\.t \.+ ok"));
            Assert.That(r.Stdout, Does.Contain("blib/arch"), "against the freshly built XS module");
        });
    }

    [Test]
    public void MakeTest_WithoutAnEngine_SkipsWithTheReason()
    {
        var r = Sh("make test", Env(agentBin: "/nonexistent/perl-sentry"));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.Stdout + r.Stderr);
        Assert.Multiple(() =>
        {
            Assert.That(r.Stdout, Does.Contain("Result: PASS"));
            Assert.That(r.Stdout, Does.Match(@"10-sdk\.t \.+ skipped: PERLSENTRY_AGENT_BIN=/nonexistent/perl-sentry is not an executable program"));
        });
    }

    [Test]
    public void DistcheckIsClean_DistMakesTheTarball_InstallPutsManPagesUnderPackageNames()
    {
        var check = Sh("make distcheck", Env());
        Assert.That(check.ExitCode, Is.EqualTo(0), check.Stdout + check.Stderr);
        Assert.That(check.Stdout + check.Stderr, Does.Not.Contain("Not in MANIFEST").And.Not.Contain("No such file"));
        var dist = Sh("make dist", Env());
        Assert.That(dist.ExitCode, Is.EqualTo(0), dist.Stdout + dist.Stderr);
        var version = File.ReadAllLines(Path.Combine(Repo.Root, "perl/lib/PerlSentry.pm"))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"VERSION = '([^']+)'")).First(m => m.Success).Groups[1].Value;
        var tarball = Path.Combine(_dir, $"PerlSentry-{version}.tar.gz");
        Assert.That(File.Exists(tarball), Is.True, dist.Stdout);
        var listing = Sh($"tar tzf {tarball}", Env()).Stdout;
        Assert.That(listing, Does.Contain("META.json").And.Contain("LICENSE").And.Contain("Changes").And.Contain("pb_xs.c"));

        var dest = Path.Combine(_dir, "dest");
        var install = Sh($"make install DESTDIR={dest}", Env());
        Assert.That(install.ExitCode, Is.EqualTo(0), install.Stdout + install.Stderr);
        var files = Directory.GetFiles(dest, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.That(files, Does.Contain("Sentry::SDK.3pm").And.Contain("Client.so").And.Contain("SDK.pm"));
    }
}
