using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace PerlSentry.Bench;

/// <summary>
/// The SDK as users run it, measured side by side in one run: per-call costs in-process and through
/// the agent, the transport under load, and what the agent costs a process (start, fork, memory,
/// profiling). Prints markdown rows for bench/RESULTS.md.
/// </summary>
internal sealed partial class SdkBench(string cli)
{
    private readonly string _workloads = Path.GetFullPath("bench/workloads");
    private readonly string _perlLib = Path.Combine(Path.GetDirectoryName(cli)!, "perl", "lib");
    private readonly string _dir = Directory.CreateTempSubdirectory("perlsentry-bench-").FullName;
    private int _worlds;

    /// <summary>A fresh cache and agent socket (an agent of this world's own, started by the first client).</summary>
    private Dictionary<string, string> World(string? dsn)
    {
        var world = Path.Combine(_dir, $"w{++_worlds}");
        Directory.CreateDirectory(world, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var env = new Dictionary<string, string>
        {
            ["XDG_CACHE_HOME"] = Path.Combine(world, "cache"),
            ["PERLSENTRY_AGENT"] = Path.Combine(world, "agent.sock"),
            ["PERLSENTRY_AGENT_BIN"] = cli,
            ["PERL5LIB"] = _perlLib,
        };
        if (dsn is not null)
            env["SENTRY_DSN"] = dsn;
        return env;
    }

    private static void StopAgent(Dictionary<string, string> env)
    {
        var pidFile = env["PERLSENTRY_AGENT"] + ".pid";
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            return;
        try
        {
            using var p = Process.GetProcessById(pid);
            p.Kill();
            p.WaitForExit(5000);
        }
        catch (ArgumentException)
        {
        }
    }

    private (string Out, string Err, TimeSpan Elapsed) Run(string file, IEnumerable<string> args, Dictionary<string, string> env)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        sw.Stop();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {err.Result}");
        return (output, err.Result, sw.Elapsed);
    }

    private (string Out, string Err, TimeSpan Elapsed) Perl(string script, Dictionary<string, string> env, bool hosted, params string[] args) =>
        hosted ? Run(cli, ["run", Path.Combine(_workloads, script), .. args], env) : Run("perl", [Path.Combine(_workloads, script), .. args], env);

    /// <summary>Rows "| name | 12.3 µs |" of a workload's output, by name.</summary>
    private static Dictionary<string, double> Rows(string output) =>
        RowPattern().Matches(output).ToDictionary(m => m.Groups[1].Value.Trim(), m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^\| (.+?) \| ([-+0-9.]+) (?:µs|%|ms)[^|]*\|", RegexOptions.Multiline)]
    private static partial Regex RowPattern();

    private static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToList();
        return s[s.Count / 2];
    }

    /// <summary>Per-call costs on the Perl thread with the defaults and a DSN (disk cache on): in-process and through the agent.</summary>
    public void Costs()
    {
        using var receiver = new Receiver();
        var host = World(receiver.Dsn);
        var agent = World(receiver.Dsn);
        Perl("sdk_cost.pl", agent, hosted: false, "warmup");   // the agent is up before anything is timed
        var inProcess = Rows(Perl("sdk_cost.pl", host, hosted: true).Out);
        var through = Rows(Perl("sdk_cost.pl", agent, hosted: false).Out);
        // Once per process (code compiled on first use): a fresh process each run, alternating, medians.
        var firstIn = new List<Dictionary<string, double>>();
        var firstThrough = new List<Dictionary<string, double>>();
        for (var i = 0; i < 7; i++)
        {
            firstIn.Add(Rows(Perl("first_calls.pl", host, hosted: true).Out));
            firstThrough.Add(Rows(Perl("first_calls.pl", agent, hosted: false).Out));
        }
        StopAgent(agent);
        Console.WriteLine("| what | `perl-sentry run` (in-process) | plain `perl` (through the agent) | agent ÷ in-process |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (name, value) in inProcess)
        {
            var unit = name.Contains("vs not", StringComparison.Ordinal) ? "%" : "µs";
            var other = through.TryGetValue(name, out var o) ? o : double.NaN;
            var ratio = unit == "µs" ? $"{other / value:0.00}×" : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {value:0.0} {unit} | {other:0.0} {unit} | {ratio} |"));
        }
        foreach (var name in firstIn[0].Keys)
        {
            var a = Median(firstIn.Select(r => r[name]));
            var b = Median(firstThrough.Select(r => r.GetValueOrDefault(name, double.NaN)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name}; median of 7 processes (goal ≤ 3 ms) | {a:0.00} ms | {b:0.00} ms | {b / a:0.00}× |"));
        }
    }

    /// <summary>The transport under load: a queue empty vs full, a sustained stream, a burst.</summary>
    public void Transport()
    {
        TrickleCost.Run();
        using (var receiver = new Receiver())
        {
            var env = World(receiver.Dsn);
            var empty = Rows(Perl("sdk_queue.pl", env, hosted: true, "measure").Out)["capture_message"];
            receiver.Hang = true;   // nothing leaves: the journal fills to max_cache_items and stays full
            var full = Rows(Perl("sdk_queue.pl", env, hosted: true, "fill").Out)["capture_message"];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| `capture_message` per call, queue empty vs full (10,000 waiting, each new one pushes out the oldest) | {empty:0.0} µs vs {full:0.0} µs: {full / empty:0.00}× (goal ≤ 1.2×) |"));
        }
        using (var receiver = new Receiver())
        {
            var env = World(receiver.Dsn);
            var run = Task.Run(() => Perl("sdk_stream.pl", env, hosted: true, "12"));
            Thread.Sleep(2000);
            var (n0, t0) = (receiver.Envelopes, Stopwatch.GetTimestamp());
            Thread.Sleep(10_000);
            var rate = (receiver.Envelopes - n0) / Stopwatch.GetElapsedTime(t0).TotalSeconds;
            run.Wait();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| envelopes per second to a healthy receiver on 127.0.0.1, sustained for 10 s (a script capturing as fast as it can) | {rate:0} /s (goal ≥ 2,000) |"));
        }
        using (var receiver = new Receiver { CountReports = true })
        {
            var env = World(receiver.Dsn);
            var r = Perl("sdk_queue.pl", env, hosted: true, "burst");
            var until = DateTime.UtcNow.AddSeconds(30);
            while (receiver.Envelopes < 10_000 && DateTime.UtcNow < until)
                Thread.Sleep(100);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| 10,000 `capture_message` with the defaults, receiver healthy | {receiver.Envelopes} delivered, {receiver.Dropped} dropped (goal 0; {r.Out.Trim()}) |"));
        }
    }

    /// <summary>What the agent costs a plain perl process: start-up, the first start of the agent, fork, memory, profiling.</summary>
    public void Agent()
    {
        using var receiver = new Receiver();
        var env = World(receiver.Dsn);
        string[] init = ["-MSentry::SDK", "-e", "Sentry::SDK->init({ traces_sample_rate => 1.0 })"];
        Run("perl", init, env);   // the agent runs from here on
        var (plain, sdk) = (new List<double>(), new List<double>());
        for (var i = 0; i < 21; i++)
        {
            plain.Add(Run("perl", ["-e", "1"], env).Elapsed.TotalMilliseconds);
            sdk.Add(Run("perl", init, env).Elapsed.TotalMilliseconds);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| `perl -MSentry::SDK -e 'Sentry::SDK->init(...)'` vs `perl -e 1`, agent running (medians of 21 alternating runs) | {Median(sdk):0.0} ms vs {Median(plain):0.0} ms: +{Median(sdk) - Median(plain):0.0} ms (goal ≤ +25 ms) |"));

        var firstStarts = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var fresh = World(receiver.Dsn);
            var r = Run("perl", ["-MSentry::SDK", "-MTime::HiRes=time", "-e",
                "my $t = time; Sentry::SDK->init({}); printf qq(%.1f\\n), 1000 * (time - $t); my $u = time; Sentry::SDK->capture_message('x') for 1 .. 10; printf qq(%.3f\\n), 1000 * (time - $u)"], fresh);
            var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            firstStarts.Add(double.Parse(lines[0], CultureInfo.InvariantCulture));
            StopAgent(fresh);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| the first start of the agent, as the first client sees it (its `init`, no agent running; median of 5) | {Median(firstStarts):0} ms (goal ≤ 250 ms; later calls do not wait for it) |"));

        var forks = Rows(Perl("fork_cost.pl", env, hosted: false).Out);
        var hostedForks = Rows(Perl("fork_cost.pl", env, hosted: true).Out);
        foreach (var (name, value) in forks)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name}, plain `perl` | {value:0.000} ms |"));
        foreach (var (name, value) in hostedForks)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name}, `perl-sentry run` | {value:0.000} ms |"));

        Memory(env);
        Profiling(env);
        StopAgent(env);
    }

    private void Memory(Dictionary<string, string> env)
    {
        static long RssKb(int pid) =>
            File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
                .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).First();
        Process Start(string code)
        {
            var psi = new ProcessStartInfo("perl") { RedirectStandardOutput = true };
            psi.ArgumentList.Add("-e");
            psi.ArgumentList.Add(code);
            foreach (var (k, v) in env) psi.Environment[k] = v;
            var p = Process.Start(psi)!;
            p.StandardOutput.ReadLine();   // "ready"
            return p;
        }
        var bare = Start("$| = 1; print qq(ready\\n); sleep 30");
        var withSdk = Start("use Sentry::SDK; Sentry::SDK->init({ traces_sample_rate => 1.0 }); Sentry::SDK->capture_message('m'); $| = 1; print qq(ready\\n); sleep 30");
        var xs = RssKb(withSdk.Id) - RssKb(bare.Id);
        bare.Kill();
        withSdk.Kill();
        var clients = Enumerable.Range(0, 16).Select(i => Start(
            "use Sentry::SDK; Sentry::SDK->init({ traces_sample_rate => 1.0, profiles_sample_rate => 1.0 }); "
            + "for (1 .. 20) { my $tx = Sentry::SDK->start_transaction({ name => 't' }); my $x = 0; $x += $_ for 1 .. 20000; $tx->finish; Sentry::SDK->capture_message('m') } "
            + "$| = 1; print qq(ready\\n); sleep 30")).ToList();
        var agentPid = int.Parse(File.ReadAllText(env["PERLSENTRY_AGENT"] + ".pid").Trim(), CultureInfo.InvariantCulture);
        var agentRss = RssKb(agentPid);
        foreach (var c in clients)
            c.Kill();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| resident memory of the agent serving 16 processes (each initialised, 20 profiled transactions sent) | {agentRss / 1024.0:0.0} MB (goal ≤ 120 MB) |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| what `use Sentry::SDK` + `init` + a capture add to a perl process's resident memory | {xs / 1024.0:0.0} MB (goal ≤ 3 MB) |"));
    }

    private void Profiling(Dictionary<string, string> env)
    {
        // Adjacent runs are a pair (this machine drifts); each figure is the median of the pairs' ratios.
        // CPU: every thread of the perl process (the sampler's and the client's flusher included), user + system.
        var timed = new Dictionary<string, string>(env) { ["CPU_PL_TIMES"] = "1" };
        var cpu = Path.Combine(_workloads, "cpu.pl");
        (double Wall, double Cpu) Once(params string[] args)
        {
            var parts = Run("perl", args, timed).Out.Trim().Split(' ');
            return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        var (wall, cpuTime, plainCpu, floor) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (var i = 0; i < 11; i++)
        {
            floor.Add(Once(cpu).Cpu / Once(cpu).Cpu);   // the same run twice: what a ratio here is worth
            // Which goes first alternates too: the second of two runs tends to be the faster here.
            (double Wall, double Cpu) plain, profiled;
            if (i % 2 == 0)
                (plain, profiled) = (Once(cpu), Once("-I" + _workloads, "-MProfiledRun", cpu));
            else
                (profiled, plain) = (Once("-I" + _workloads, "-MProfiledRun", cpu), Once(cpu));
            wall.Add(profiled.Wall / plain.Wall);
            cpuTime.Add(profiled.Cpu / plain.Cpu);
            plainCpu.Add(plain.Cpu);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| `bench/workloads/cpu.pl` (~{Median(plainCpu):0.0} s of CPU) profiled at 101 Hz under plain `perl` (continuous, manual) vs plain `perl` without the SDK: the process's CPU time (all threads), median of 11 adjacent pairs, each order alternately | {Median(cpuTime):0.000}× (goal ≤ 1.01×) |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| the same, the work's wall time | {Median(wall):0.000}× |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| noise floor: plain `perl` against itself, CPU time, the same pairs (median; lowest–highest) | {Median(floor):0.000}× ({floor.Min():0.000}–{floor.Max():0.000}) |"));
        // In one process, rounds alternately profiled and not: what separate processes cannot resolve here.
        var rounds = Run("perl", [Path.Combine(_workloads, "profile_rounds.pl"), "21"], env).Out.Trim().Split(' ');
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| the same work in one plain `perl` process, 21 pairs of ~0.35 s rounds with the profiler started and stopped around every other one: the Perl process's CPU time (its sampler thread included, the agent's aggregation not), profiled ÷ not (median) | {double.Parse(rounds[0], CultureInfo.InvariantCulture):0.000}× (goal ≤ 1.01×) |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| noise floor: unprofiled rounds against each other, the same process | {double.Parse(rounds[1], CultureInfo.InvariantCulture):0.000}× |"));
    }
}
