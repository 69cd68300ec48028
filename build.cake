// PerlSentry build: ./build.sh <target> runs this through the Cake tool (.config/dotnet-tools.json).
using System.Text.RegularExpressions;
using System.Xml.Linq;

var target = Argument("target", "Demo");
var configuration = Argument("configuration", "Release");
var testFilter = Argument("filter", "");

var root = MakeAbsolute(Directory("."));
var artifacts = root.Combine("artifacts");
// The CLI as users get it: published ReadyToRun (start-up time is a goal, bench/RESULTS.md).
var cliDir = artifacts.Combine("perl-sentry");
var cli = cliDir.CombineWithFilePath("perl-sentry");
var results = artifacts.Combine("test-results");
(int Passed, int Failed)? testTotals = null;   // printed as the very last line, after Cake's summary

int Run(string file, string args, string workingDir = null, IDictionary<string, string> env = null)
{
    return StartProcess(file, new ProcessSettings { Arguments = args, WorkingDirectory = workingDir ?? root.FullPath, EnvironmentVariables = env });
}

(int Passed, int Failed) Prove(string what, string args, IDictionary<string, string> env)
{
    IEnumerable<string> output;
    var exit = StartProcess("prove", new ProcessSettings
    {
        Arguments = args,
        WorkingDirectory = root.FullPath,
        RedirectStandardOutput = true,
        RedirectStandardError = false,
        EnvironmentVariables = env,
    }, out output);
    var lines = output.ToList();
    Information($"prove {what}:");
    foreach (var l in lines)
        Information(l);
    var total = lines.Select(l => Regex.Match(l, @"^Files=\d+, Tests=(\d+)")).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).FirstOrDefault();
    var failed = 0;
    foreach (var m in lines.Select(l => Regex.Match(l, @"\(Wstat: \d+(?: \(.*?\))? Tests: (\d+) Failed: (\d+)\)")).Where(m => m.Success))
        failed += Math.Max(1, int.Parse(m.Groups[2].Value));   // a file that died counts once
    if (exit != 0 && failed == 0)
        failed = 1;
    return (Math.Max(0, total - failed), failed);
}

Task("Native")
    .Description("Compile the C shim against the local perl.")
    .Does(() =>
{
    if (Run("bash", $"src/PerlBridge/Native/native/build-shim.sh {root}/src/PerlBridge/obj/native/") != 0)
        throw new Exception("the shim did not build (see above)");
});

Task("Build")
    .IsDependentOn("Native")
    .Does(() =>
{
    DotNetBuild("PerlSentry.sln", new DotNetBuildSettings { Configuration = configuration, NoLogo = true });
    DotNetPublish("src/Cli/Cli.csproj", new DotNetPublishSettings
    {
        Configuration = configuration,
        Runtime = "linux-x64",
        SelfContained = false,
        OutputDirectory = cliDir,
        NoLogo = true,
        MSBuildSettings = new DotNetMSBuildSettings().WithProperty("PublishReadyToRun", "true"),
    });
    // perl-sentry serve: its own host in the same folder, so only serve loads ASP.NET Core.
    DotNetPublish("src/Serve/Serve.csproj", new DotNetPublishSettings
    {
        Configuration = configuration,
        Runtime = "linux-x64",
        SelfContained = false,
        OutputDirectory = cliDir,
        NoLogo = true,
        MSBuildSettings = new DotNetMSBuildSettings().WithProperty("PublishReadyToRun", "true"),
    });
});

Task("Test")
    .Description("NUnit and prove (perl/t under the host); ends with 'N passed, N failed'.")
    .IsDependentOn("Build")
    .Does(() =>
{
    CleanDirectory(results);
    // The SDK's envelope cache of every test run starts empty and stays out of the user's home.
    var testCache = artifacts.Combine("test-cache");
    EnsureDirectoryExists(testCache);
    CleanDirectory(testCache);
    var nunitFailedToRun = false;
    foreach (var project in GetFiles("tests/**/*.Tests.csproj"))
    {
        var settings = new DotNetTestSettings
        {
            Configuration = configuration,
            NoBuild = true,
            NoLogo = true,
            ResultsDirectory = results,
            Loggers = new[] { $"trx;LogFileName={project.GetFilenameWithoutExtension()}.trx", "console;verbosity=normal" },
            EnvironmentVariables = new Dictionary<string, string> { ["PERLSENTRY_CLI"] = cli.FullPath, ["XDG_CACHE_HOME"] = testCache.FullPath },
        };
        if (testFilter != "")
            settings.Filter = testFilter;
        try { DotNetTest(project.FullPath, settings); }
        catch (Exception e) { Warning($"{project.GetFilename()}: {e.Message}"); nunitFailedToRun = true; }
    }

    int nunitPassed = 0, nunitFailed = 0;
    foreach (var trx in GetFiles($"{results}/*.trx"))
    {
        var counters = XDocument.Load(trx.FullPath).Descendants().First(e => e.Name.LocalName == "Counters");
        nunitPassed += int.Parse(counters.Attribute("passed").Value);
        nunitFailed += int.Parse(counters.Attribute("failed").Value) + int.Parse(counters.Attribute("error")?.Value ?? "0")
            + int.Parse(counters.Attribute("timeout")?.Value ?? "0") + int.Parse(counters.Attribute("aborted")?.Value ?? "0");
    }
    if (nunitFailedToRun && nunitFailed == 0)
        nunitFailed = 1;   // a test host that crashed counts, even if it left no result file

    // prove runs every perl/t file twice, as users run their tests: under the host (perl-sentry run),
    // and under plain perl, where the engine is the agent (a private socket, stopped afterwards).
    var (hostPassed, hostFailed) = Prove("under the host", $"-r --exec \"{cli} run\" perl/t", new Dictionary<string, string>
    {
        ["XDG_CACHE_HOME"] = testCache.FullPath, ["PERLSENTRY_CLI"] = cli.FullPath,
    });
    var agentDir = testCache.Combine("agent");
    EnsureDirectoryExists(agentDir);
    System.IO.File.SetUnixFileMode(agentDir.FullPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    var socket = agentDir.CombineWithFilePath("agent.sock").FullPath;
    var (plainPassed, plainFailed) = Prove("under plain perl", $"-r -I {cliDir}/perl/lib perl/t", new Dictionary<string, string>
    {
        ["XDG_CACHE_HOME"] = testCache.FullPath, ["PERLSENTRY_CLI"] = cli.FullPath,
        ["PERLSENTRY_AGENT_BIN"] = cli.FullPath, ["PERLSENTRY_AGENT"] = socket,
    });
    if (System.IO.File.Exists(socket + ".pid"))
        Run("sh", $"-c \"kill $(cat '{socket}.pid') 2>/dev/null || true\"");
    var provePassed = hostPassed + plainPassed;
    var proveFailed = hostFailed + plainFailed;

    Information($"NUnit: {nunitPassed} passed, {nunitFailed} failed; prove: {provePassed} passed, {proveFailed} failed");
    testTotals = (nunitPassed + provePassed, nunitFailed + proveFailed);
});

Task("Demo")
    .Description("Build everything and profile the seed's demo script: a flame graph and the top functions.")
    .IsDependentOn("Build")
    .Does(() =>
{
    var outDir = artifacts.Combine("demo-profile");
    // The demo's own SDK calls write their envelopes next to the flame graph (no DSN, no account).
    var rc = Run(cli.FullPath, $"profile -o {outDir} --force examples/profiling_demo.pl", env: new Dictionary<string, string>
    {
        ["PERLSENTRY_ENVELOPE_DIR"] = outDir.Combine("sdk-envelopes").FullPath,
    });
    if (rc != 0)
        throw new Exception($"the demo exited with status {rc}");
    Information($"Open {outDir}/flamegraph.html in a browser (speedscope: {outDir}/profile.speedscope.json at https://www.speedscope.app).");
});

Task("Bench")
    .Description("Run the benchmarks in bench/ and rewrite bench/RESULTS.md.")
    .IsDependentOn("Build")
    .Does(() =>
{
    if (StartProcess("bash", new ProcessSettings { Arguments = "bench/run.sh", EnvironmentVariables = new Dictionary<string, string> { ["PERLSENTRY_CLI"] = cli.FullPath } }) != 0)
        throw new Exception("a benchmark failed");
});

Task("Pack")
    .Description("Pack perl-sentry as a dotnet tool, and the PerlSentry.Hosting library, into artifacts/.")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetPack("src/Cli/Cli.csproj", new DotNetPackSettings { Configuration = configuration, NoBuild = true, OutputDirectory = artifacts });
    DotNetPack("src/Hosting/Hosting.csproj", new DotNetPackSettings { Configuration = configuration, NoBuild = true, OutputDirectory = artifacts });
});

RunTarget(target);

if (testTotals is { } totals)
{
    // Plain text, last line: CI reads "N passed, N failed".
    Console.WriteLine($"{totals.Passed} passed, {totals.Failed} failed");
    if (totals.Failed > 0)
        Environment.Exit(1);
}
