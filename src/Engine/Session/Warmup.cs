using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Session;

/// <summary>
/// The first transaction, profile and capture of a process run code the JIT has not compiled yet
/// (generic instantiations ReadyToRun cannot hold), tens of milliseconds on the program's thread.
/// At the first <c>init</c> of a process, the same paths run once on a pool thread against a
/// throwaway hub (no transport, no interpreter: a sampler of made-up samples), so that work is done
/// beside the program instead of inside its first request. Nothing it makes leaves the process.
/// </summary>
internal static class Warmup
{
    private static int _started;
    private static string? _source;

    /// <summary>Whether the warm-up ran to its end (for tests).</summary>
    public static Task Done { get; private set; } = Task.CompletedTask;

    private static int _jsonStarted;

    /// <summary>
    /// The first use of the JSON library in a process (Newtonsoft's JObject: it loads System.Linq.Expressions
    /// and System.ComponentModel for the interfaces its tokens implement) cost an empty ReadyToRun
    /// program 27.5 ms here, and <c>init</c> makes the first JSON. Called when the SDK's modules start
    /// loading (<c>PerlSentry::Host::prepare</c>), it does that on a pool thread while perl compiles
    /// the rest of the modules and the program; <c>init</c> then finds it done, or waits for what is left.
    /// </summary>
    public static void StartJson()
    {
        if (System.Environment.GetEnvironmentVariable("PERLSENTRY_NO_WARMUP") == "1" || Interlocked.Exchange(ref _jsonStarted, 1) == 1)
            return;
        _ = Task.Run(() =>
        {
            try
            {
                RawJson.Parse(RawJson.From(new Newtonsoft.Json.Linq.JObject { ["name"] = "warm-up", ["n"] = 1, ["ok"] = true }));
            }
            catch (Exception)
            {
                // only ever a head start
            }
        });
    }

    public static void Start(SentryOptions options, HostInfo host)
    {
        if (System.Environment.GetEnvironmentVariable("PERLSENTRY_NO_WARMUP") == "1" || Interlocked.Exchange(ref _started, 1) == 1)
            return;
        Done = Task.Run(() =>
        {
            try
            {
                Run(options, host);
            }
            catch (Exception)
            {
                // only ever a head start: the real paths compile on first use as they would have
            }
        });
    }

    /// <summary>
    /// A session of its own, called as the Perl modules call it (the same values, the same entry
    /// points): a transaction with a span and its profile, an error and a message inside it, a manual
    /// profile, twice; then a continuous chunk's export.
    /// </summary>
    internal static void Run(SentryOptions given, HostInfo host)
    {
        var sampler = new MadeUpSampler();
        // The transport as programs have it by default (a disk journal, a sender), into a folder of its
        // own that goes afterwards, toward a sink that drops what it is given.
        var folder = Directory.CreateTempSubdirectory("perl-sentry-warm-up-");
        var transport = new BackgroundTransport(new Discard(), new EnvelopeJournal(folder.FullName, 100), sampler);
        var reports = new ClientReports();
        using var writer = new CaptureWriter("perl-sentry warm-up");   // as the host writes: off the calling thread
        var session = new EngineSession(new SessionHost(() => sampler, sampler, host, "1", "main", [], _ => { })
        {
            Transports = (_, _, _, _) => (transport, reports),
            Writer = writer,
        });
        try
        {
            // a source file for the error's frames: reading and decoding it is first-use work too
            var source = Path.Combine(folder.FullName, "warm-up.pl");
            File.WriteAllLines(source, ["use strict;", "sub work { die \"warm-up\" }", "work();"]);
            _source = source;
            Exercise(session, sampler, given);
            reports.Record("sample_rate", "profile");   // a transaction not profiled records one (a dictionary keyed by a tuple: compiled on first use)
            reports.TakeItem(sampler.UnixNs);
            sampler.ResolveMany();
            sampler.Resolve(PerlBridge.PerlInterpreter.PrepareSampling());   // the real sampler's decoding, then the resolver as a drain calls it
            writer.Drain(TimeSpan.FromSeconds(2));
            transport.FlushAsync(TimeSpan.FromSeconds(2)).Wait();
        }
        finally
        {
            session.Shutdown();
            transport.Dispose();
            folder.Delete(recursive: true);
        }
    }

    private static void Exercise(EngineSession session, MadeUpSampler sampler, SentryOptions given)
    {
        Call(session, "init", new Dictionary<string, object?>
        {
            ["traces_sample_rate"] = 1.0, ["profiles_sample_rate"] = 1.0, ["cache_dir"] = "",
            ["release"] = given.Release, ["include_source_context"] = given.IncludeSourceContext ? 1L : 0L,
        }, new Dictionary<string, object?>());
        Call(session, "add_breadcrumb", new Dictionary<string, object?> { ["message"] = "warm-up", ["category"] = "warm-up" });
        Call(session, "scope_set", EngineSession.RootScopeId, "set_tag", "warm-up", "1");
        for (var i = 0L; i < 2; i++)
        {
            long tx = 100 + 10 * i, span = tx + 1, profile = tx + 2;
            Call(session, "transaction_start", tx, new Dictionary<string, object?> { ["name"] = "warm-up", ["op"] = "warm-up", ["event_id"] = SentryIds.NewEventId() }, null);
            Call(session, "scope_set", EngineSession.RootScopeId, "set_span", tx);
            Call(session, "span_start", span, tx, new Dictionary<string, object?> { ["op"] = "db", ["description"] = "warm-up" });
            sampler.Advance();
            Call(session, "span_set", span, "set_data", "rows", 1L);
            Call(session, "span_set", span, "finish", null);
            Call(session, "capture_event", Error());
            Call(session, "capture_event", new Dictionary<string, object?>
            {
                ["level"] = "info", ["event_id"] = SentryIds.NewEventId(), ["message"] = new Dictionary<string, object?> { ["formatted"] = "warm-up" },
            });
            sampler.Advance();
            Call(session, "span_get", tx, "to_trace_parent");
            Call(session, "transaction_finish", tx, null);
            Call(session, "scope_set", EngineSession.RootScopeId, "set_span", null);
            Call(session, "profiler_call", "start", 0L, profile, new Dictionary<string, object?> { ["name"] = "warm-up" });
            sampler.Advance();
            Call(session, "profiler_call", "stop", 0L);
        }
        Profiling.Export.SentryChunkExporter.Export(sampler.Store.Snapshot(), new Profiling.Export.SentryChunkExporter.Context("0", SdkInfo.Default));
    }

    private static void Call(EngineSession session, string name, params object?[] args) => SessionCalls.Call(session, name, args);

    /// <summary>An error as capture_exception sends it: a die with a short stack.</summary>
    private static Dictionary<string, object?> Error() => new()
    {
        ["level"] = "error",
        ["event_id"] = SentryIds.NewEventId(),
        ["exception"] = new Dictionary<string, object?>
        {
            ["values"] = new List<object?>
            {
                new Dictionary<string, object?>
                {
                    ["type"] = "die", ["value"] = "warm-up",
                    ["mechanism"] = new Dictionary<string, object?> { ["type"] = "generic", ["handled"] = true },
                    ["stacktrace"] = new Dictionary<string, object?>
                    {
                        ["frames"] = new List<object?>
                        {
                            new Dictionary<string, object?> { ["function"] = "main", ["module"] = "main", ["filename"] = "warm-up.pl", ["abs_path"] = _source, ["lineno"] = 3L },
                            new Dictionary<string, object?> { ["function"] = "main::work", ["module"] = "main", ["filename"] = "warm-up.pl", ["abs_path"] = _source, ["lineno"] = 2L },
                        },
                    },
                },
            },
        },
    };

    /// <summary>Delivers nothing: the envelopes were made and queued, which is the point.</summary>
    private sealed class Discard : IEnvelopeSink
    {
        public string Name => "warm-up";

        public SinkResult Send(byte[] envelope) => SinkResult.Delivered;

        public void Dispose() { }
    }

    /// <summary>A sampler with no interpreter: a sample of a small stack whenever time moves on, through the frame resolver as real samples go.</summary>
    private sealed class MadeUpSampler : ISampler, IClock
    {
        private static readonly PerlBridge.PerlFrame[] Stack = [new("main::work", "warm-up.pl", 2), new("main", "warm-up.pl", 1)];

        private readonly FrameResolver _frames = new([], "/");
        private readonly SampleNeeds _needs;
        private long _now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        private int _users;

        public MadeUpSampler() => _needs = new SampleNeeds(Store);

        public long ThreadId => 1;
        public string ThreadName => "main";
        public ProfileStore Store { get; } = new();
        public long NowNs => _now;
        public long UnixNs => _now;
        public bool IsSampling => _users > 0;
        public event Action? Drained { add { } remove { } }

        /// <summary>Ten milliseconds on, with a sample (weighted 2 now and then) when someone samples.</summary>
        public long Advance()
        {
            _now += 10_000_000;
            if (IsSampling)
                _frames.AddTo(Store, [new PerlBridge.PerlSample(_now, _now / 10_000_000 % 3 == 0 ? 2 : 1, false, Stack)], ThreadId, 0, ProfileFrame.IsSdkFrame);
            return _now;
        }

        /// <summary>A deep stack of distinct frames: the resolver's cache grows (a dictionary keyed by a struct, compiled on first use).</summary>
        public void ResolveMany() =>
            Resolve([new PerlBridge.PerlSample(_now, 1, false, [.. Enumerable.Range(0, 40).Select(i => new PerlBridge.PerlFrame($"main::warm_up_{i}", "warm-up.pl", i + 1))])]);

        /// <summary>Samples through the frame resolver, as a drain hands them over, into a store of their own.</summary>
        public void Resolve(IEnumerable<PerlBridge.PerlSample> samples) =>
            _frames.AddTo(new ProfileStore(), samples, ThreadId, 0, ProfileFrame.IsSdkFrame);

        public void Acquire(int samplingIntervalUs, int maxStackDepth) => _users++;
        public void Release() => _users = Math.Max(0, _users - 1);
        public void Mark() => Advance();
        public void Drain() { }
        public void Retain(object owner, IReadOnlyList<TimeWindow> windows) => _needs.Set(owner, windows);
    }
}
