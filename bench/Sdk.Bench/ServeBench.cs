using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace PerlSentry.Bench;

/// <summary>
/// <c>perl-sentry serve</c> against Starman (Debian's), same worker count, with <c>wrk</c> (Debian's):
/// each server is started, warmed (3 s of load, so the JIT's tier-up is over), then measured; the
/// servers alternate, and a row is the median of its rounds. Traced against untraced, both servers
/// run at once and are measured in turn in short slices (<see cref="Interleave"/>).
/// </summary>
internal static partial class ServeBench
{
    private const string Hello = "sub { [200, ['Content-Type' => 'text/plain'], ['Hello, world']] };\n";

    private const string Json = """
        use JSON::PP;
        my $json = JSON::PP->new->canonical;
        my @rows = map { { id => $_, name => "item $_", price => $_ * 1.5, tags => ['a', 'b'] } } 1 .. 200;
        sub { [200, ['Content-Type' => 'application/json'], [$json->encode(\@rows)]] };
        """;

    private sealed record Load(double RequestsPerSecond, double P99Ms)
    {
        /// <summary>CPU µs per request of each group of the server's threads (<see cref="CpuGroup"/>), and of the benchmark's own process (the Sentry stand-in).</summary>
        public IReadOnlyDictionary<string, double> CpuPerRequest { get; init; } = new Dictionary<string, double>();
    }

    public static void Run(string cli, int rounds, int memorySeconds, bool tracedOnly = false, bool profilingOnly = false)
    {
        var dir = Directory.CreateTempSubdirectory("perlsentry-serve-bench-").FullName;
        try
        {
            var hello = Path.Combine(dir, "hello.psgi");
            var json = Path.Combine(dir, "json.psgi");
            File.WriteAllText(hello, Hello);
            File.WriteAllText(json, Json);
            using var receiver = new Receiver();
            // One hash seed for every server: perl picks a random one per process, and three identical
            // --no-sentry servers of the JSON app (hash-heavy: JSON::PP sorts each row's keys) differed
            // by 2-3% in req/s with their own seeds, 1% or less with this one (bench/RESULTS.md) - as
            // much as the SDK effects these rows look for.
            var env = new Dictionary<string, string>
            {
                ["SENTRY_DSN"] = receiver.Dsn, ["XDG_CACHE_HOME"] = Path.Combine(dir, "cache"),
                ["PERL_HASH_SEED"] = "0", ["PERL_PERTURB_KEYS"] = "0",
            };

            string[] Serve(string app, bool traced, bool profiled = true, string rate = "1") =>
                [cli, "serve", "--workers", "2", .. traced ? new[] { "--traces-sample-rate", rate, "--profiles-sample-rate", profiled ? "1" : "0" } : ["--no-sentry"], "--listen", "127.0.0.1:{port}", app];
            string[] Starman(string app) => ["/usr/bin/starman", "--workers", "2", "--listen", "127.0.0.1:{port}", app];

            // serve against Starman: both up at once, measured in turn in 2 s slices (as traced against
            // untraced below); a row is the median of the pairs' ratios. Fresh servers measured one after
            // the other read 0.91× to 1.11× for the same JSON comparison in three full runs.
            foreach (var (name, app) in tracedOnly ? [] : new[] { ("hello world", hello), ("JSON of 200 rows (JSON::PP)", json) })
            {
                var slices = Interleave(Serve(app, false), Starman(app), env, 3 * rounds, 64, sliceSeconds: 2, warmSeconds: 3);
                var (serve, starman) = Medians(slices);
                Console.WriteLine(Row($"{name}: req/s, 64 connections, `serve` vs Starman ({3 * rounds} pairs of 2 s slices; median of the pairs' ratios)",
                    $"{serve.RequestsPerSecond:N0} vs {starman.RequestsPerSecond:N0}: **{PairRatio(slices, l => l.RequestsPerSecond):0.00}×**"));
                Console.WriteLine(Row($"{name}: p99 latency, 64 connections, `serve` vs Starman",
                    $"{serve.P99Ms:0.00} ms vs {starman.P99Ms:0.00} ms: **{PairRatio(slices, l => l.P99Ms):0.00}×**"));
            }

            // p99 like for like at 64 connections: every request on a new connection, so Starman's workers
            // take the connections in turn from the accept queue as serve takes its requests from its own.
            foreach (var (name, app) in tracedOnly ? [] : new[] { ("hello world", hello), ("JSON of 200 rows", json) })
            {
                var slices = Interleave(Serve(app, false), Starman(app), env, 3 * rounds, 64, sliceSeconds: 2, warmSeconds: 3, close: true);
                var (serve, starman) = Medians(slices);
                Console.WriteLine(Row($"{name}: p99 latency, 64 connections, each request on a new connection (`Connection: close`), `serve` vs Starman",
                    $"{serve.P99Ms:0.00} ms vs {starman.P99Ms:0.00} ms: **{PairRatio(slices, l => l.P99Ms):0.00}×** (req/s {serve.RequestsPerSecond:N0} vs {starman.RequestsPerSecond:N0})"));
            }

            // p99 where every connection is served at once (2 connections, 2 workers): the per-request
            // latency, without the queueing that 64 connections on 2 workers add.
            if (!tracedOnly)
            {
                var slices = Interleave(Serve(hello, false), Starman(hello), env, 3 * rounds, 2, sliceSeconds: 2, warmSeconds: 3);
                var (serve, starman) = Medians(slices);
                Console.WriteLine(Row("hello world: p99 latency, 2 connections, `serve` vs Starman",
                    $"{serve.P99Ms:0.000} ms vs {starman.P99Ms:0.000} ms: **{PairRatio(slices, l => l.P99Ms):0.00}×**"));
            }

            // Traced and untraced: both servers up at once, warmed (a longer warm-up: the SDK's code must
            // tier up too), then measured in turn in short slices. The machine's drift over the run (it
            // is shared) hits both alike, and each pair's ratio cancels it: the row is the median of the
            // pairs' ratios, where separate rounds of fresh servers differed by more than the 3% looked for.
            // With profilingOnly (by hand), the baseline is traced without profiles: what profiling adds alone.
            var without = profilingOnly ? "traced without profiles" : "without";
            void Compare(string name, string[] baseline, string[] traced, int pairs, string what)
            {
                var slices = Interleave(baseline, traced, env, pairs, 64, sliceSeconds: 2, warmSeconds: 12);
                var (off, on) = Medians(slices);
                var ratios = PairRatios((slices.Second, slices.First), l => l.RequestsPerSecond);
                Console.WriteLine(Row($"{name}: `serve` with {what} vs {without}, req/s ({pairs} pairs of 2 s slices, both servers up; median of the pairs' ratios)",
                    $"{on.RequestsPerSecond:N0} vs {off.RequestsPerSecond:N0}: **{Median(ratios):0.000}** (the pairs: {ratios.Min():0.000}–{ratios.Max():0.000})"));
                Console.WriteLine(Row($"{name}: CPU per request by thread, {without} vs {what} (run time per thread from `/proc/…/schedstat`, medians of the slices)", CpuRow(slices)));
            }
            foreach (var (name, app, pairs) in new[] { ("JSON of 200 rows", json, 5 * rounds), ("hello world", hello, 2 * rounds) })
                Compare(name, Serve(app, profilingOnly, profiled: false), Serve(app, true), pairs, "every request traced and profiled");
            // What a production set-up sees: Sentry's docs suggest tracing a part of the requests (each
            // traced one profiled here), not all of them as above.
            if (!profilingOnly)
            {
                Compare("JSON of 200 rows", Serve(json, false), Serve(json, true, rate: "0.1"), 5 * rounds, "10% of requests traced (`--traces-sample-rate 0.1`), each of them profiled");
                // The floor under both rows above: the server's transaction on every request, none sent.
                Compare("JSON of 200 rows", Serve(json, false), Serve(json, true, profiled: false, rate: "0"), 5 * rounds, "the SDK on and nothing sampled (`--traces-sample-rate 0 --profiles-sample-rate 0`)");
            }
            Console.WriteLine(Row("envelopes the Sentry stand-in received during the traced runs", receiver.Envelopes.ToString("N0", CultureInfo.InvariantCulture)));

            if (tracedOnly)
                return;
            // Memory: resident set of a traced, profiled server after warm-up and after a long run.
            var (start, end, requests) = Memory(Serve(json, true), env, memorySeconds);
            Console.WriteLine(Row($"resident memory of `serve` (traced + profiled, JSON app), after warm-up vs after {memorySeconds} s more of load ({requests:N0} requests)",
                $"{start / 1024.0:0.0} MB → {end / 1024.0:0.0} MB: **{(end - start) * 100.0 / start:+0.0;-0.0}%**"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Row(string what, string result) => $"| {what} | {result} |";

    /// <summary>Each pair of slices' ratio of what <paramref name="of"/> reads, first server over second.</summary>
    private static List<double> PairRatios((List<Load> First, List<Load> Second) slices, Func<Load, double> of) =>
        slices.First.Zip(slices.Second, (a, b) => of(a) / of(b)).ToList();

    /// <summary>The median of <see cref="PairRatios"/>.</summary>
    private static double PairRatio((List<Load> First, List<Load> Second) slices, Func<Load, double> of) => Median(PairRatios(slices, of));

    /// <summary>Each server's median throughput and median p99 over its slices.</summary>
    private static (Load First, Load Second) Medians((List<Load> First, List<Load> Second) runs)
    {
        static Load Of(List<Load> r) => new(Median(r.Select(l => l.RequestsPerSecond)), Median(r.Select(l => l.P99Ms)));
        return (Of(runs.First), Of(runs.Second));
    }

    /// <summary>
    /// Two servers up at once, warmed, then measured in turn <paramref name="pairs"/> times, in the
    /// order first-second, second-first, … (a steady drift weighs on both alike).
    /// </summary>
    private static (List<Load> First, List<Load> Second) Interleave(string[] first, string[] second, Dictionary<string, string> env,
        int pairs, int connections, int sliceSeconds, int warmSeconds, bool close = false)
    {
        var portA = FreePort();
        using var a = Start(first, env, portA);
        var portB = FreePort();
        using var b = Start(second, env, portB);
        Wrk(portA, connections, warmSeconds, close);
        Wrk(portB, connections, warmSeconds, close);
        var (la, lb) = (new List<Load>(), new List<Load>());
        // After each slice, a moment for the work a slice leaves behind (the last envelopes) to be
        // done and counted in its own slice, not in the other server's.
        var settle = TimeSpan.FromMilliseconds(500);
        // And 1 s of load before each slice, not measured: a server that sat idle while the other was
        // measured answered its first requests late (hello world's p99 at 2 connections read 0.72 ms
        // against 0.43 ms for a server measured right after its warm-up).
        void MeasureA() { Wrk(portA, connections, 1, close); la.Add(Slice(a, portA, connections, sliceSeconds, close, settle)); }
        void MeasureB() { Wrk(portB, connections, 1, close); lb.Add(Slice(b, portB, connections, sliceSeconds, close, settle)); }
        for (var i = 0; i < pairs; i++)
        {
            if (i % 2 == 0) { MeasureA(); MeasureB(); }
            else { MeasureB(); MeasureA(); }
        }
        Stop(a);
        Stop(b);
        return (la, lb);
    }

    /// <summary>One measured run of wrk against a warmed server: its throughput, p99, and CPU per request by thread group (read <paramref name="settle"/> after wrk ends).</summary>
    private static Load Slice(Process server, int port, int connections, int seconds, bool close, TimeSpan settle)
    {
        // Run time the scheduler kept per thread (schedstat), not /proc's sampled ticks (ProcStat.RunNs says why).
        var before = ProcStat.RunNsByGroup(server.Id, CpuGroup);
        var self = ProcStat.RunNsByGroup(Environment.ProcessId, _ => StandIn);
        var output = Wrk(port, connections, seconds, close);
        Thread.Sleep(settle);
        var after = ProcStat.RunNsByGroup(server.Id, CpuGroup);
        var selfAfter = ProcStat.RunNsByGroup(Environment.ProcessId, _ => StandIn);
        var load = Parse(output);
        var requests = Requests(output);
        var perRequest = after.ToDictionary(kv => kv.Key, kv => (kv.Value - before.GetValueOrDefault(kv.Key)) / 1e3 / requests);
        // The stand-in: the bench process's threads (the receiver's, and this one waiting for wrk).
        perRequest[StandIn] = (selfAfter.GetValueOrDefault(StandIn) - self.GetValueOrDefault(StandIn)) / 1e3 / requests;
        return load with { CpuPerRequest = perRequest };
    }

    private const string StandIn = "the Sentry stand-in";

    /// <summary>
    /// Which part of <c>serve</c> a thread is, by its name: the writer (envelopes), the sampler's thread,
    /// the transport's sender threads, .NET's pool and I/O threads (Kestrel, the JIT), and the rest: the
    /// interpreters' threads (perl names them after <c>$0</c>) and the main thread.
    /// </summary>
    private static string CpuGroup(string comm) =>
        comm.StartsWith("perl-sentry wri", StringComparison.Ordinal) ? "writer"
        : comm.StartsWith("perl-sentry smp", StringComparison.Ordinal) ? "sampler"
        : comm.StartsWith("sentry-send", StringComparison.Ordinal) ? "transport"
        : comm.StartsWith(".NET", StringComparison.Ordinal) || comm.StartsWith("Kestrel", StringComparison.Ordinal) ? ".NET threads"
        : "Perl threads";

    /// <summary>The traced comparison's CPU per request, group by group, and what the SDK adds in all.</summary>
    private static string CpuRow((List<Load> Off, List<Load> On) runs)
    {
        double Of(List<Load> loads, string group) => Median(loads.Select(l => l.CpuPerRequest.GetValueOrDefault(group)));
        string[] groups = ["Perl threads", "sampler", "writer", "transport", ".NET threads", StandIn];
        var parts = groups.Select(g => $"{g} {Of(runs.Off, g):0} vs {Of(runs.On, g):0} µs");
        var off = groups.Sum(g => Of(runs.Off, g));
        var on = groups.Sum(g => Of(runs.On, g));
        return string.Join("; ", parts) + $"; in all {off:0} vs {on:0} µs: **{on - off:+0;-0} µs ({(on - off) * 100 / off:+0.0;-0.0}%)**";
    }

    private static (long StartKb, long EndKb, long Requests) Memory(string[] command, Dictionary<string, string> env, int seconds)
    {
        var port = FreePort();
        using var server = Start(command, env, port);
        Wrk(port, 16, 15);
        var start = RssKb(server.Id);
        var output = Wrk(port, 16, seconds);
        var end = RssKb(server.Id);
        Stop(server);
        var requests = Requests(output);
        return (start, end, requests);
    }

    private static Process Start(string[] command, Dictionary<string, string> env, int port)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in command[1..])
            psi.ArgumentList.Add(a.Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        foreach (var (k, v) in env)
            psi.Environment[k] = v;
        var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var c = new TcpClient("127.0.0.1", port);
                return p;
            }
            catch (SocketException)
            {
                if (p.HasExited)
                    break;
                Thread.Sleep(50);
            }
        }
        throw new InvalidOperationException($"{string.Join(' ', command)} did not listen on {port}");
    }

    private static void Stop(Process server)
    {
        Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        if (!server.WaitForExit(30_000))
            server.Kill(entireProcessTree: true);
        Thread.Sleep(300);   // Starman's workers
    }

    private static string Wrk(int port, int connections, int seconds, bool close = false)
    {
        var psi = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] header = close ? ["-H", "Connection: close"] : [];
        foreach (var a in (string[])["-t2", $"-c{connections}", $"-d{seconds}s", "--latency", .. header, $"http://127.0.0.1:{port}/"])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    private static Load Parse(string wrk)
    {
        var rps = RpsPattern().Match(wrk);
        var p99 = P99Pattern().Match(wrk);
        if (!rps.Success || !p99.Success)
            throw new InvalidOperationException("wrk printed no result:\n" + wrk);
        var latency = double.Parse(p99.Groups[1].Value, CultureInfo.InvariantCulture);
        latency *= p99.Groups[2].Value switch { "us" => 0.001, "ms" => 1, "s" => 1000, _ => 1 };
        return new Load(double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture), latency);
    }

    /// <summary>The requests wrk says it made (0 when it says nothing).</summary>
    private static long Requests(string wrk) =>
        RequestsPattern().Match(wrk) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;

    private static long RssKb(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RpsPattern();

    [GeneratedRegex(@"\s99%\s+([\d.]+)(us|ms|s)")]
    private static partial Regex P99Pattern();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsPattern();
}
