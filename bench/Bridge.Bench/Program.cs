using System.Diagnostics;
using System.Globalization;
using PerlSentry.PerlBridge;

// Bridge benchmarks, each measured side by side in one run (the machine is shared and noisy):
//   calls   Perl -> C# sub vs pure-Perl sub vs native XSUB, and C# -> Perl
//   calls-xs a pure-Perl sub and a native XSUB without and with XS-call sampling, in one process
//   startup perl-sentry run -e 1 vs perl -e 1
//   pool    PerlPool.InvokeAsync of a trivial sub on a pool of 2: one caller at a time, and 64 at once
//   pool-sentry the same with Sentry options: every call a transaction (by hand; not in bench/run.sh)
//   pool-sentry-unsampled  the same with no call sampled (traces_sample_rate 0): the SDK's floor per call (by hand)
//   clone   a pool interpreter made fresh (start + require a web stack) vs cloned from a loaded one (perl_clone)
// Prints markdown rows; bench/run.sh collects them into bench/RESULTS.md.
var what = args.Length > 0 ? args[0] : "calls";
if (what == "noop")
    return;   // the .NET runtime's own start-up, for the start-up table
var inv = CultureInfo.InvariantCulture;

// The Perl side of calls and calls-xs: each loop returns its wall time for n calls.
const string PerlLoops = """
    sub perl_inc { $_[0] + 1 }
    sub loop_empty { my ($n) = @_; my $x = 0; my $t = Time::HiRes::time(); for my $i (1 .. $n) { $x = $i + 1 } Time::HiRes::time() - $t }
    sub loop_perl  { my ($n) = @_; my $x = 0; my $t = Time::HiRes::time(); for my $i (1 .. $n) { $x = perl_inc($i) } Time::HiRes::time() - $t }
    sub loop_xs    { my ($n) = @_; my $x = 0; my $t = Time::HiRes::time(); for my $i (1 .. $n) { $x = Scalar::Util::dualvar($i, '') } Time::HiRes::time() - $t }
    1;
    """;
static double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }

if (what is "pool" or "pool-sentry" or "pool-sentry-unsampled")
{
    var app = Path.Combine(Path.GetTempPath(), $"perlsentry-bench-pool-{Environment.ProcessId}.pl");
    File.WriteAllText(app, "package Bench; sub echo { $_[0] } 1;\n");
    var envelopes = Path.Combine(Path.GetTempPath(), $"perlsentry-bench-pool-{Environment.ProcessId}-envelopes");
    var poolOptions = new PerlSentry.Hosting.PerlPoolOptions { Interpreters = 2, AppFile = app };
    // pool-sentry: every call a transaction (traced, not profiled), written to envelope_dir (no network).
    if (what != "pool")
        poolOptions.Sentry = new Dictionary<string, object?> { ["traces_sample_rate"] = what == "pool-sentry" ? 1.0 : 0.0, ["envelope_dir"] = envelopes };
    using var cleanup = new DirectoryCleanup(envelopes);   // disposed after the pool, which flushes into it
    await using var pool = PerlSentry.Hosting.PerlPool.Start(poolOptions);
    File.Delete(app);
    async Task<double> OneAtATime(int n)
    {
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
            await pool.InvokeAsync("Bench::echo", [(long)i]);
        return sw.Elapsed.TotalMilliseconds * 1000 / n;
    }
    async Task<double> Concurrent(int callers, int each)
    {
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async c =>
        {
            for (var i = 0; i < each; i++)
                await pool.InvokeAsync("Bench::echo", [(long)i]);
        }));
        return sw.Elapsed.TotalMilliseconds * 1000 / (callers * each);
    }
    await OneAtATime(5000);
    await Concurrent(64, 100);
    var single = new List<double>();
    var many = new List<double>();
    for (var r = 0; r < 5; r++)
    {
        single.Add(await OneAtATime(20_000));
        many.Add(await Concurrent(64, 500));
    }
    var sentry = what switch
    {
        "pool-sentry" => " with Sentry (every call a transaction, traced, not profiled, to `envelope_dir`)",
        "pool-sentry-unsampled" => " with Sentry (every call a transaction, none sampled)",
        _ => "",
    };
    Console.WriteLine(string.Create(inv, $"| `InvokeAsync` of a trivial Perl sub{sentry}, pool of 2, one caller at a time (wall per call, median of 5 × 20,000{(sentry.Length == 0 ? "; goal ≤ 10 µs" : "")}) | {single.Order().ElementAt(2):0.0} µs |"));
    Console.WriteLine(string.Create(inv, $"| the same, 64 callers at once (wall ÷ calls, median of 5 × 32,000) | {many.Order().ElementAt(2):0.0} µs |"));
    return;
}

if (what == "clone")
{
    // The pool's choice: start each interpreter and load the code, or load once and perl_clone. The clone
    // is measured through threads->create (perl_clone of the running interpreter plus a thread), joined.
    string[] modules = ["Mojolicious::Lite", "JSON::PP", "DBI", "DBD::SQLite", "Plack::Request", "HTTP::Tiny"];
    var load = string.Concat(modules.Select(m => $"require {m}; ")) + "1";
    double Fresh()
    {
        // Made as the pool makes one (which also keeps Mojolicious off EV, which one process cannot share).
        var options = new PerlSentry.Hosting.PerlPoolOptions { Interpreters = 1 };
        foreach (var m in modules)
            options.Modules.Add(m);
        var sw = Stopwatch.StartNew();
        var pool = PerlSentry.Hosting.PerlPool.Start(options);
        var ms = sw.Elapsed.TotalMilliseconds;
        pool.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return ms;
    }
    Fresh();
    var fresh = Enumerable.Range(0, 9).Select(_ => Fresh()).Order().ElementAt(4);
    // The clone in a plain perl process: perl_clone's cost does not depend on the host.
    var psi = new ProcessStartInfo("perl") { RedirectStandardOutput = true };
    psi.ArgumentList.Add("-Mthreads");
    psi.ArgumentList.Add("-MTime::HiRes");
    psi.ArgumentList.Add("-e");
    psi.ArgumentList.Add(load + """
        ; my @t;
        for (1 .. 10) { my $t0 = Time::HiRes::time(); threads->create(sub { 1 })->join; push @t, (Time::HiRes::time() - $t0) * 1000 }
        @t = sort { $a <=> $b } @t; my ($kb) = `grep VmRSS /proc/$$/status` =~ /(\d+)/; print "$t[4] ", $kb / 1024;
        """);
    using var child = Process.Start(psi)!;
    var figures = child.StandardOutput.ReadToEnd().Split(' ');
    child.WaitForExit();
    var clone = double.Parse(figures[0], inv);
    var rss = double.Parse(figures[1], inv);
    Console.WriteLine(string.Create(inv, $"| a pool interpreter made fresh: start + require Mojolicious::Lite, JSON::PP, DBI with DBD::SQLite, Plack::Request, HTTP::Tiny (median of 9) | {fresh:0.0} ms |"));
    Console.WriteLine(string.Create(inv, $"| the same cloned from one that loaded them (perl_clone via threads->create and join in a perl process, median of 10) | {clone:0.0} ms ({fresh / clone:0.0}× faster) |"));
    Console.WriteLine(string.Create(inv, $"| (for scale) a perl process's resident memory with those modules loaded | {rss:0} MB |"));
    return;
}

if (what == "calls-xs")
{
    // What XS-call sampling (entersub wrapped) costs a sub call, side by side in one process: run with
    // PERLSENTRY_XS_SAMPLES=0, the loops compiled first call through perl's own entersub, the ones
    // compiled after SampleXsCalls through the wrapper (it affects ops compiled after it).
    if (Environment.GetEnvironmentVariable("PERLSENTRY_XS_SAMPLES") != "0")
        throw new InvalidOperationException("calls-xs must run with PERLSENTRY_XS_SAMPLES=0");
    using var perl = PerlInterpreter.Start();
    perl.Eval("use Time::HiRes (); use Scalar::Util (); package Plain; " + PerlLoops);
    PerlInterpreter.SampleXsCalls();
    perl.Eval("package Wrapped; " + PerlLoops);
    const int n = 2_000_000;
    var keys = new[] { "Plain::loop_empty", "Wrapped::loop_empty", "Plain::loop_perl", "Wrapped::loop_perl", "Plain::loop_xs", "Wrapped::loop_xs" };
    var samples = keys.ToDictionary(k => k, _ => new List<double>());
    for (var round = 0; round < 7; round++)
        foreach (var k in round % 2 == 0 ? keys : keys.Reverse())
            samples[k].Add((double)perl.Call(k, n)! / n * 1e9);
    foreach (var (what2, sub) in new[] { ("pure-Perl sub (`perl_inc($i)`)", "perl"), ("native XSUB (`Scalar::Util::dualvar`)", "xs") })
        Console.WriteLine($"| Perl → {what2}, per call, without vs with XS-call sampling (one process, loops compiled before and after entersub is wrapped; median of 7 rounds) | {Median(samples["Plain::loop_" + sub]) - Median(samples["Plain::loop_empty"]):F1} ns vs {Median(samples["Wrapped::loop_" + sub]) - Median(samples["Wrapped::loop_empty"]):F1} ns |");
    return;
}

if (what == "calls")
{
    using var perl = PerlInterpreter.Start();
    perl.DefineSub("Bench::cs_inc", static (ref PerlCall call) => call.Return(call.NextInt64() + 1));
    perl.DefineSub("Bench::cs_none", static (ref PerlCall call) => { });
    perl.Eval("""
        package Bench;
        use Time::HiRes ();
        use Scalar::Util ();
        sub loop_none   { my ($n) = @_; my $x = 0; my $t = Time::HiRes::time(); for my $i (1 .. $n) { $x = cs_none() } Time::HiRes::time() - $t }
        sub loop_cs     { my ($n) = @_; my $x = 0; my $t = Time::HiRes::time(); for my $i (1 .. $n) { $x = cs_inc($i) } Time::HiRes::time() - $t }
        """ + "\n" + PerlLoops);
    const int n = 2_000_000;
    var samples = new Dictionary<string, List<double>> { ["empty"] = [], ["perl"] = [], ["xs"] = [], ["cs"] = [], ["none"] = [], ["cs2perl"] = [] };
    // Warm-up, not measured: the JIT moves the C# subs to optimised code after a few hundred ms of calls
    // (2 s on one core; measured: 75 ns a call before, 52 after), and the rows are a server's steady state.
    var warm = Stopwatch.StartNew();
    while (warm.Elapsed < TimeSpan.FromSeconds(4))
        foreach (var k in new[] { "cs", "none" })
            perl.Call("Bench::loop_" + k, n / 4);
    for (var round = 0; round < 7; round++)
    {
        foreach (var k in new[] { "empty", "perl", "xs", "cs", "none" })
            samples[k].Add((double)perl.Call("Bench::loop_" + k, n)! / n * 1e9);
        // C# -> Perl: one guarded call of a cached sub per iteration, on the owner thread.
        samples["cs2perl"].Add(perl.Invoke(() =>
        {
            const int m = 200_000;
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < m; i++)
                perl.Call("Bench::perl_inc", i);
            return sw.Elapsed.TotalNanoseconds / m;
        }));
    }
    var empty = Median(samples["empty"]);
    Console.WriteLine($"| Perl → C# sub (`cs_inc($i)`), per call (goal ≤ 40 ns) | {Median(samples["cs"]) - empty:F1} ns |");
    Console.WriteLine($"| Perl → C# sub with no arguments and no result (`$x = cs_none()`), per call | {Median(samples["none"]) - empty:F1} ns |");
    Console.WriteLine($"| Perl → pure-Perl sub (`perl_inc($i)`), per call | {Median(samples["perl"]) - empty:F1} ns |");
    Console.WriteLine($"| Perl → native XSUB (`Scalar::Util::dualvar`), per call | {Median(samples["xs"]) - empty:F1} ns |");
    Console.WriteLine($"| C# → Perl (`Call(\"Bench::perl_inc\", i)`), per call | {Median(samples["cs2perl"]):F1} ns |");
    Console.WriteLine($"| (loop overhead subtracted: {empty.ToString("F1", inv)} ns/iteration; median of 7 rounds of {n:N0}) | |");
}
else if (what == "startup")
{
    var host = args[1];
    var runs = args.Length > 2 ? int.Parse(args[2], inv) : 20;
    var perlTimes = new List<double>();
    var hostTimes = new List<double>();
    var noopTimes = new List<double>();
    var sdkTimes = new List<double>();
    // What a script that uses the SDK pays at start (the modules, init, the first event; no DSN, nothing sent).
    const string SdkScript = "use Sentry::SDK; Sentry::SDK->init({ dsn => undef }); Sentry::SDK->capture_message('started'); 1";
    double Time(string file, params string[] a)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true };
        foreach (var x in a) psi.ArgumentList.Add(x);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} exited {p.ExitCode}");
        return sw.Elapsed.TotalMilliseconds;
    }
    Time("perl", "-e", "1");
    Time(host, "run", "-e", "1");
    for (var i = 0; i < runs; i++)   // interleaved, so load changes hit both alike
    {
        perlTimes.Add(Time("perl", "-e", "1"));
        hostTimes.Add(Time(host, "run", "-e", "1"));
        noopTimes.Add(Time(Environment.ProcessPath!, "noop"));
        sdkTimes.Add(Time(host, "run", "-e", SdkScript));
    }
    perlTimes.Sort();
    hostTimes.Sort();
    noopTimes.Sort();
    sdkTimes.Sort();
    var p50 = perlTimes[runs / 2];
    var h50 = hostTimes[runs / 2];
    Console.WriteLine($"| `perl -e 1` | {p50:F1} ms |");
    Console.WriteLine($"| `perl-sentry run -e 1` | {h50:F1} ms |");
    Console.WriteLine($"| difference (median of {runs} interleaved runs; goal ≤ +60 ms) | +{h50 - p50:F1} ms |");
    Console.WriteLine($"| a script that loads the SDK, inits it and captures a message (no DSN), under `perl-sentry run`: against `perl -e 1` | +{sdkTimes[runs / 2] - p50:F1} ms |");
    Console.WriteLine($"| for scale: a .NET program that does nothing (this benchmark with `noop`) | {noopTimes[runs / 2]:F1} ms |");
}

/// <summary>Deletes a folder the benchmark wrote into, when it is done.</summary>
sealed class DirectoryCleanup(string path) : IDisposable
{
    public void Dispose()
    {
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
        catch (IOException) { }
    }
}
