using System.Diagnostics;
using PerlSentry.Engine.Profiling;
using PerlSentry.PerlBridge;

// Profiler benchmarks, side by side in one run. Prints markdown table rows for bench/RESULTS.md.
var what = args.Length > 0 ? args[0] : "all";
double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }

using var perl = PerlInterpreter.Start();
perl.Eval("""
    package B;
    use Time::HiRes qw(clock_gettime CLOCK_PROCESS_CPUTIME_ID);
    sub fib { my $n = shift; $n < 2 ? $n : fib($n - 1) + fib($n - 2) }
    use Time::HiRes qw(CLOCK_THREAD_CPUTIME_ID);
    sub cpu_round {
        my ($c, $t) = (clock_gettime(CLOCK_PROCESS_CPUTIME_ID), clock_gettime(CLOCK_THREAD_CPUTIME_ID));
        fib(24) for 1 .. 50;
        [clock_gettime(CLOCK_PROCESS_CPUTIME_ID) - $c, clock_gettime(CLOCK_THREAD_CPUTIME_ID) - $t];
    }
    sub spin { my $t = Time::HiRes::time() + $_[0]; 1 while Time::HiRes::time() < $t }
    sub part_a { spin(0.060) } sub part_b { spin(0.030) } sub part_c { spin(0.010) }
    sub split_work { for (1 .. $_[0]) { part_a(); part_b(); part_c() } }
    sub blocker { my $x = 1; select(undef, undef, undef, 0.05) }
    sub burner { spin(0.05) }
    sub block_work { for (1 .. $_[0]) { blocker(); burner() } }
    sub down { my $n = shift; $n > 0 ? down($n - 1) : B::sample_here() }
    1;
    """);

if (what is "all" or "overhead")
{
    // CPU time for the same CPU-bound work, rounds alternating: unprofiled, unprofiled again
    // (the noise floor), profiled at 101 Hz. Perl-thread CPU is what the program pays;
    // process CPU adds the sampler thread and the engine's drains.
    var runs = new Dictionary<string, (List<double> Proc, List<double> Thread)>
    {
        ["a"] = ([], []), ["a2"] = ([], []), ["p"] = ([], []),
    };
    using var profiler = new Profiler(new ProfilerOptions());
    profiler.Attach(perl, "bench");
    void Round(string key)
    {
        var r = (List<object?>)perl.Call("B::cpu_round")!;
        runs[key].Proc.Add((double)r[0]!);
        runs[key].Thread.Add((double)r[1]!);
    }
    for (var round = 0; round < 11; round++)
    {
        Round("a");
        Round("a2");
        profiler.Start();
        Round("p");
        profiler.Stop();
    }
    string Pct(List<double> x, List<double> baseline) => $"{100 * (Median(x) - Median(baseline)) / Median(baseline):+0.00;-0.00}%";
    var a = runs["a"]; var a2 = runs["a2"]; var p = runs["p"];
    Console.WriteLine($"| CPU overhead at 101 Hz, Perl thread (fib(24)×50 ≈ {Median(a.Thread):F2} s a round, median of 11 alternating rounds; goal < 1%) | {Pct(p.Thread, a.Thread)} |");
    Console.WriteLine($"| CPU overhead at 101 Hz, whole process (sampler thread and engine drains included) | {Pct(p.Proc, a.Proc)} |");
    Console.WriteLine($"| noise floor: the same unprofiled round twice (thread / process) | {Pct(a2.Thread, a.Thread)} / {Pct(a2.Proc, a.Proc)} |");
}

if (what is "all" or "cost")
{
    // Capture cost on the interpreter thread: at depth d, a C# sub takes samples back to back.
    foreach (var (depth, maxDepth) in new[] { (5, 100), (50, 100), (500, 100), (500, 1000) })
    {
        double perSample = 0;
        perl.DefineSub("B::sample_here", (ref PerlCall call) =>
        {
            const int n = 2000;
            var runs = new List<double>();
            var drained = new List<PerlSample>();
            for (var r = 0; r < 5; r++)
            {
                var sw = Stopwatch.StartNew();
                for (var i = 0; i < n; i++)
                    perl.SampleNow();
                runs.Add(sw.Elapsed.TotalNanoseconds / n);
                drained.Clear();
                perl.DrainSamples(drained);
            }
            perSample = Median(runs);
        });
        perl.StartSampling(TimeSpan.FromSeconds(10), maxDepth);   // on, but the timer stays out of the way
        perl.Call("B::down", depth);
        perl.StopSampling();
        var note = maxDepth < depth + 2 ? $" (kept {maxDepth}: max_stack_depth)" : "";
        Console.WriteLine($"| cost per sample on the Perl thread, stack depth {depth}{note} (median of 5×2000; goal ≤ 5 µs at 50) | {perSample / 1000:F2} µs |");
    }
}

if (what is "all" or "accuracy")
{
    using var profiler = new Profiler(new ProfilerOptions());
    profiler.Attach(perl, "bench");
    profiler.Start();
    perl.Call("B::split_work", 30);   // 3 s: 60/30/10
    profiler.Stop();
    var snap = profiler.Store.Snapshot();
    double Share(string leafSub, ProfileSnapshot s)
    {
        var total = s.Samples.Where(x => s.FramesOf(x).Any(f => f.Function.StartsWith("B::part_") || f.Function is "B::blocker" or "B::burner")).Sum(x => (double)x.Weight);
        var mine = s.Samples.Where(x => s.FramesOf(x).Any(f => f.Function == leafSub)).Sum(x => (double)x.Weight);
        return 100 * mine / total;
    }
    Console.WriteLine($"| attribution, known 60/30/10 split over 3 s (goal ±2 pp) | {Share("B::part_a", snap):F1} / {Share("B::part_b", snap):F1} / {Share("B::part_c", snap):F1} % |");

    using var profiler2 = new Profiler(new ProfilerOptions());
    profiler2.Attach(perl, "bench");
    profiler2.Start();
    perl.Call("B::block_work", 20);   // 2 s: a sub ending in a blocking select vs a CPU sub, 50/50
    profiler2.Stop();
    var snap2 = profiler2.Store.Snapshot();
    Console.WriteLine($"| attribution, sub ending in a blocking select vs CPU sub, known 50/50 over 2 s (goal ±5 pp) | {Share("B::blocker", snap2):F1} / {Share("B::burner", snap2):F1} % |");
}

if (what is "all" or "memory")
{
    // A 30 s profile at 101 Hz with realistic stacks: 40 frames deep, from 300 distinct frames.
    var frames = Enumerable.Range(0, 300).Select(i => new ProfileFrame($"App::Module{i % 30}::sub_{i}", $"App::Module{i % 30}", $"lib/App/Module{i % 30}.pm", $"/srv/app/lib/App/Module{i % 30}.pm", 10 + i, true)).ToArray();
    var rng = new Random(42);
    var stacks = Enumerable.Range(0, 3030).Select(_ => Enumerable.Range(0, 40).Select(d => frames[(d * 7 + rng.Next(4)) % 300]).ToArray()).ToArray();
    GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
    var before = GC.GetTotalMemory(true);
    var store = new ProfileStore();
    for (var i = 0; i < stacks.Length; i++)
        store.Add(stacks[i], 1, i * 9_900_990L, 1);
    var after = GC.GetTotalMemory(true);
    GC.KeepAlive(store);
    Console.WriteLine($"| profile store, 30 s at 101 Hz (3,030 samples, 40-frame stacks, {store.Stacks.Count:N0} distinct; goal ≤ 2 MB) | {(after - before) / 1024.0 / 1024:F2} MB |");
}

if (what is "all" or "leak")
{
    // Start/stop in one process: resident memory after 100 and after 1,000 cycles of
    // start, 20 ms of sampled work at 1 kHz, stop, drain, on one interpreter.
    static long RssKb() => long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:"))
        .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    var sink = new List<PerlSample>();
    void Cycles(int n)
    {
        for (var i = 0; i < n; i++)
        {
            perl.StartSampling(TimeSpan.FromMilliseconds(1), 100);
            perl.Call("B::spin", 0.02);
            perl.StopSampling();
            sink.Clear();
            perl.DrainSamples(sink);
        }
    }
    Cycles(100);
    GC.Collect();
    var after100 = RssKb();
    Cycles(900);
    GC.Collect();
    var after1000 = RssKb();
    Cycles(2000);
    GC.Collect();
    var after3000 = RssKb();
    Console.WriteLine($"| start/stop leak check: resident memory after 100 → 1,000 → 3,000 cycles (start, 20 ms at 1 kHz, stop, drain) | {after100 / 1024.0:F1} → {after1000 / 1024.0:F1} → {after3000 / 1024.0:F1} MB |");
}

