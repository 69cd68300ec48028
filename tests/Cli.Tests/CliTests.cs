namespace PerlSentry.Cli.Tests;

public sealed class CliTests
{
    private static ProcessResult Host(params string[] args) =>
        ProcessRunner.Run(Repo.PerlSentry, args, Repo.Root, timeoutMs: 30_000);

    [Test]
    public void Run_UnknownSwitch_ExplainsAndExits2()
    {
        var r = Host("run", "-w", "x.pl");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain("unknown switch '-w'").And.Contain("-I dir, -M module, -e code"));
    }

    [Test]
    public void Profile_UnknownSwitchOrNoScript_AnswersAsProfile_WithItsUsage()
    {
        var r = Host("profile", "--bogus", "x.pl");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.StartWith("perl-sentry profile: unknown switch '--bogus'").And.Contain("Usage: perl-sentry profile [-o dir]"));
        Assert.That(r.Stderr, Does.Not.Contain("perl-sentry run"));
        r = Host("profile", "--hz", "50");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.StartWith("perl-sentry profile: no script given. Usage: perl-sentry profile"));
    }

    [Test]
    public void Run_NoScript_ShowsUsage()
    {
        var r = Host("run");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain("no script given"));
    }

    [Test]
    public void UnknownCommand_ShowsUsage()
    {
        var r = Host("frobnicate");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain("unknown command 'frobnicate'").And.Contain("usage: perl-sentry"));
    }

    [TestCase("run", "perl-sentry run [<script.pl> [<args>...]] [options]", "-I <dir>")]
    [TestCase("profile", "perl-sentry profile [<script.pl> [<args>...]] [options]", "--max-depth <N>")]
    [TestCase("agent", "perl-sentry agent [options]", "--idle-timeout <SECONDS>")]
    [TestCase("serve", "perl-sentry serve <app.psgi> [options]", "--workers <N>")]
    public void EachCommand_HasItsHelp(string command, string usage, string option)
    {
        var r = Host(command, "--help");
        Assert.That(r.ExitCode, Is.Zero, r.Stderr);
        Assert.That(r.Stdout, Does.Contain(usage).And.Contain(option));
    }

    [Test]
    public void RootHelp_ListsTheFourCommands()
    {
        var r = Host("--help");
        Assert.That(r.ExitCode, Is.Zero);
        Assert.That(r.Stdout, Does.Contain("  run ").And.Contain("  profile ").And.Contain("  serve ").And.Contain("  agent "));
    }

    [Test]
    public void AfterTheScript_EverythingIsTheScripts_HelpAndResponseFilesIncluded()
    {
        var dir = Directory.CreateTempSubdirectory("perlsentry-cli-").FullName;
        var script = Path.Combine(dir, "args.pl");
        File.WriteAllText(script, "print join('|', @ARGV), qq{\n};");
        File.WriteAllText(Path.Combine(dir, "rsp"), "--bogus\n");
        var r = ProcessRunner.Run(Repo.PerlSentry, ["run", script, "-I", "x", "--help", "@rsp", "--version"], dir, timeoutMs: 30_000);
        Assert.That(r.Stdout, Is.EqualTo("-I|x|--help|@rsp|--version\n"), r.Stderr);
        r = ProcessRunner.Run(Repo.PerlSentry, ["profile", "-o", Path.Combine(dir, "p"), script, "--help"], dir, timeoutMs: 60_000);
        Assert.That(r.Stdout, Is.EqualTo("--help\n"), r.Stderr);
        r = ProcessRunner.Run(Repo.PerlSentry, ["run", "@rsp"], dir, timeoutMs: 30_000);
        Assert.That(r.Stderr, Does.Contain("@rsp"), "a script named @rsp is a script, not a response file");
        Directory.Delete(dir, recursive: true);
    }

    [Test]
    public void Agent_UnknownOption_NamesAgent()
    {
        var r = Host("agent", "--bogus");
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.StartWith("perl-sentry agent: ").And.Contain("--bogus").And.Contain("perl-sentry agent --help"));
    }

    [Test]
    public void Run_BundledLib_IsOnIncAndSeesTheEngine()
    {
        var r = Host("run", "-MPerlSentry", "-e", "print PerlSentry::is_hosted(), ' ', PerlSentry::engine_version(), ' ', (grep { m{/perl/lib\\z} } @INC) ? 'inc' : 'no-inc'");
        Assert.That(r.Stdout, Is.EqualTo("1 0.1.0 inc"), r.Stderr);
    }

    [Test]
    public void Run_CaretX_IsTheRealPerl()
    {
        var r = Host("run", "-e", "print $^X; exit(system($^X, '-e', 'exit 3') >> 8)");
        Assert.That(r.Stdout, Does.EndWith("/perl"));
        Assert.That(r.ExitCode, Is.EqualTo(3));
    }

    [Test]
    public void Run_MissingLibPerl_NamesTheVariable()
    {
        var r = ProcessRunner.Run(Repo.PerlSentry, ["run", "-e", "1"], Repo.Root,
            env: new Dictionary<string, string> { ["PERLSENTRY_LIBPERL"] = "/nonexistent/libperl.so" });
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.Contain("PERLSENTRY_LIBPERL"));
    }

    [Test]
    public void Version_IsTheProductVersion_AndNamesPerl()
    {
        foreach (var how in new[] { "version", "--version" })
        {
            var r = Host(how);
            Assert.That(r.Stdout, Does.Match(@"^perl-sentry \d+\.\d+\.\d+ \(perl 5\.\d+\.\d+\)\n\z"), "0.1.0 as packed, not 0.1.0.0 nor +commit");
        }
    }

    [Test]
    public void Pack_TheHostingLibrary_ANewProjectReferencesIt_BuildsTheShimForItsPerl_AndCallsPerl()
    {
        var dir = Directory.CreateTempSubdirectory("ps-libpack").FullName;
        try
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var feed = Path.Combine(dir, "feed");
            var pack = ProcessRunner.Run("dotnet", ["pack", Path.Combine(Repo.Root, "src", "Hosting", "Hosting.csproj"), "--no-build", "-c", configuration, "-o", feed, "--nologo"],
                Repo.Root, timeoutMs: 180_000);
            Assert.That(pack.ExitCode, Is.Zero, pack.Stdout + pack.Stderr);
            using (var zip = System.IO.Compression.ZipFile.OpenRead(Directory.GetFiles(feed, "PerlSentry.Hosting.*.nupkg").Single()))
            {
                var names = zip.Entries.Select(e => e.FullName).ToList();
                Assert.That(names, Has.Some.EqualTo("perl/lib/Sentry/Scope.pm").And.Some.EqualTo("perl/lib/Sentry/Hub/Scope.pm"));
                Assert.That(names, Has.Some.EqualTo("lib/net10.0/PerlSentry.Engine.dll").And.Some.EqualTo("native/pb_interp.c").And.Some.EqualTo("lib/net10.0/PerlSentry.Hosting.xml"));
            }
            var app = Path.Combine(dir, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $$"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
                  <ItemGroup><PackageReference Include="PerlSentry.Hosting" Version="0.1.0" /></ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $$"""
                <configuration><packageSources><add key="local" value="{{feed}}" /></packageSources></configuration>
                """);
            File.WriteAllText(Path.Combine(app, "add.pl"), "sub add { return $_[0] + $_[1] }\n1;\n");
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using PerlSentry.Hosting;
                var options = new PerlPoolOptions { Interpreters = 2, AppFile = "add.pl" };
                options.Sentry = new Dictionary<string, object?> { ["envelope_dir"] = args[0], ["traces_sample_rate"] = 1.0 };
                await using (var pool = PerlPool.Start(options))
                    Console.WriteLine(await pool.InvokeAsync("add", [2, 3]));
                """);
            var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(dir, "packages") };   // the test's package, not a cached one
            var envelopes = Path.Combine(dir, "envelopes");
            var run = ProcessRunner.Run("dotnet", ["run", "--", envelopes], app, env: env, timeoutMs: 300_000);
            Assert.That(run.Stdout.Trim().Split('\n')[^1], Is.EqualTo("5"), run.Stdout + run.Stderr);
            Assert.That(Directory.GetFiles(envelopes), Has.Length.EqualTo(1), "the call's transaction, written by the SDK's modules from the package");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Pack_TheToolPackageKeepsTheModulesTree_AndInstallsAndRuns()
    {
        var dir = Directory.CreateTempSubdirectory("ps-pack").FullName;
        try
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            var pack = ProcessRunner.Run("dotnet", ["pack", Path.Combine(Repo.Root, "src", "Cli", "Cli.csproj"), "--no-build", "-c", configuration, "-o", dir, "--nologo"],
                Repo.Root, timeoutMs: 180_000);
            Assert.That(pack.ExitCode, Is.Zero, pack.Stdout + pack.Stderr);
            var nupkg = Directory.GetFiles(dir, "PerlSentry.Cli.*.nupkg").Single();
            using (var zip = System.IO.Compression.ZipFile.OpenRead(nupkg))
            {
                var names = zip.Entries.Select(e => e.FullName).ToList();
                Assert.That(names, Has.Some.EndsWith("/perl/lib/Sentry/Scope.pm").And.Some.EndsWith("/perl/lib/Sentry/Hub/Scope.pm"),
                    "both Scope.pm, each in its folder (NU5118 when they were flattened)");
                Assert.That(names, Has.None.StartsWith("content"), "no flattened content files");
            }
            var install = ProcessRunner.Run("dotnet", ["tool", "install", "--tool-path", Path.Combine(dir, "tools"), "--add-source", dir, "PerlSentry.Cli"],
                dir, timeoutMs: 180_000);
            Assert.That(install.ExitCode, Is.Zero, install.Stdout + install.Stderr);
            var run = ProcessRunner.Run(Path.Combine(dir, "tools", "perl-sentry"), ["run", "-e", "use Sentry::SDK; print qq{ok\n}"], dir, timeoutMs: 60_000);
            Assert.That(run.Stdout, Is.EqualTo("ok\n"), run.Stderr);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Run_ForkedChild_DoesNotReturnIntoDotNet()
    {
        // 200 forks whose children end by falling off the end of the script: each must _exit
        // with perl's status from the shim, never run managed code, and END must run once in each.
        var r = Host("run", "-e",
            "$|=1; my $n = 0; for (1..200) { my $p = fork; if (!$p) { END { print 'E' if $$ != $main::parent } $main::parent //= 0; last } waitpid($p, 0); $n++ if $? == 0 } BEGIN { $main::parent = $$ } print \"\\nreaped $n\\n\" if $$ == $main::parent");
        Assert.That(r.Stdout, Does.Contain("reaped 200"), r.Stderr);
        Assert.That(r.Stdout.Count(ch => ch == 'E'), Is.EqualTo(200));
    }
}
