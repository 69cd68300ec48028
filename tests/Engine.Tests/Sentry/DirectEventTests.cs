using Newtonsoft.Json.Linq;
using NUnit.Framework;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Session;
using PerlSentry.Engine.Tests.Sentry.Transport;
using PerlSentry.Engine.Tests.Session;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Tests.Sentry;

/// <summary>
/// An event written straight to JSON (<see cref="DirectEvent"/>) is the tree path's event, byte for
/// byte: the same values captured under the same scope and options, both ways, compared as text.
/// </summary>
[TestFixture]
public sealed class DirectEventTests
{
    private const string Id = "0123456789abcdef0123456789abcdef";
    private static readonly InAppRules InApp = new(["/usr/share/perl5", "/usr/lib/x86_64-linux-gnu/perl5/5.36"]);

    private static Dictionary<string, object?> Message(string text = "hello") => new()
    {
        ["level"] = "info", ["message"] = new Dictionary<string, object?> { ["formatted"] = text }, ["event_id"] = Id,
    };

    /// <summary>The tree path's payload and the direct one, event ids made the same where both made new ones.</summary>
    private static (string Tree, string Direct) Both(IDictionary<string, object?> values, Action<Hub>? arrange = null,
        SentryOptions? options = null, bool defaults = true)
    {
        var clock = new TransportFixture.ManualClock { UnixNs = 1_764_489_600_123_456_789 };
        var recorded = new RecordingTransport();
        var hub = new Hub(options ?? new SentryOptions { Release = "app@1.2", Dist = "7", ServerName = "web-1" }, recorded, clock);
        if (defaults)
        {
            hub.Client.SetDefaultContext("runtime", new JObject { ["name"] = "perl", ["version"] = "5.36.0" });
            hub.Client.SetDefaultContext("os", new JObject { ["name"] = "Linux", ["version"] = "6.1" });
        }
        arrange?.Invoke(hub);
        Assert.That(DirectEvent.Applies(values), Is.True, "the case is one the direct path takes");
        var direct = DirectEvent.Write(values, hub.CurrentScope, hub.Client.DirectClient(InApp), clock.UnixNs, out var directId);
        var treeId = hub.CaptureEvent(EngineSession.MarkInApp(SessionValues.ToJObject(values), InApp,
            hub.Options.IncludeSourceContext ? SourceContext.Shared : null), owned: true);
        var tree = recorded.Sent.Single().Items.Single().Payload;
        return (tree.Replace(treeId!, "ID", StringComparison.Ordinal), direct.Replace(directId, "ID", StringComparison.Ordinal));
    }

    private static void Same(IDictionary<string, object?> values, Action<Hub>? arrange = null, SentryOptions? options = null, bool defaults = true)
    {
        var (tree, direct) = Both(values, arrange, options, defaults);
        Assert.That(direct, Is.EqualTo(tree));
    }

    [Test]
    public void Message_WithTheDefaults() => Same(Message());

    [Test]
    public void NoLevelNoId_TheClientFillsThemIn() =>
        Same(new Dictionary<string, object?> { ["message"] = new Dictionary<string, object?> { ["formatted"] = "x" } });

    [TestCase("not-an-id")]
    [TestCase(null)]
    [TestCase("00000000000000000000000000000000")]
    public void AnIdThatIsNotOne_IsReplacedInItsPlace(string? id) =>
        Same(new Dictionary<string, object?> { ["event_id"] = id, ["message"] = "m", ["level"] = "warning" });

    [Test]
    public void LevelUndef_StaysNull_UnlessTheScopeSetsOne()
    {
        Same(new Dictionary<string, object?> { ["level"] = null, ["message"] = "m", ["event_id"] = Id });
        Same(new Dictionary<string, object?> { ["level"] = null, ["message"] = "m", ["event_id"] = Id }, h => h.CurrentScope.Level = "fatal");
        Same(new Dictionary<string, object?> { ["message"] = "m" }, h => h.CurrentScope.Level = "debug");
    }

    [Test]
    public void EverythingTheScopeCarries()
    {
        Same(Message(), hub =>
        {
            var s = hub.CurrentScope;
            s.Tags["a"] = "1";
            s.Tags["b"] = "two";
            s.Extra["n"] = 5;
            s.Extra["nested"] = new JObject { ["x"] = new JArray(1, "y", JValue.CreateNull()) };
            s.User = new JObject { ["id"] = 7, ["email"] = "a@example.com" };
            s.Contexts["runtime"] = new JObject { ["name"] = "not this one" };   // the default wins
            s.Contexts["app"] = new JObject { ["build"] = "42" };
            s.TransactionName = "GET /orders";
            s.Fingerprint.AddRange(["{{ default }}", "orders"]);
            for (var i = 0; i < 3; i++)
                hub.AddBreadcrumb(new JObject { ["message"] = $"step {i}", ["category"] = "test" });
            s.MaxBreadcrumbs = 2;   // lowered after: the oldest goes when an event takes them
            s.Span = hub.StartTransaction(new TransactionContext { Name = "t", Op = "task" }).StartChild("db", "select", hub.Clock.UnixNs);
        });
    }

    [Test]
    public void ContextsWithoutDefaults_ComeWhereTheScopeMergesThem()
    {
        Same(Message(), defaults: false);
        Same(Message(), hub => hub.CurrentScope.Tags["t"] = "1", defaults: false);
        Same(Message(), hub => { hub.CurrentScope.Contexts["app"] = new JObject { ["v"] = 1 }; hub.CurrentScope.User = []; }, defaults: false);
    }

    [Test]
    public void ATraceContextOnTheScope_EvenNull_KeepsTheSpansOut()
    {
        Same(Message(), hub =>
        {
            hub.CurrentScope.Contexts["trace"] = JValue.CreateNull();
            hub.CurrentScope.Span = hub.StartTransaction(new TransactionContext { Name = "t" });
        });
    }

    [Test]
    public void OptionsLeftUnset_AreLeftOut() =>
        Same(Message(), options: new SentryOptions { ServerName = null, Environment = "staging" });

    [Test]
    public void Exceptions_FramesMarkedInApp_OtherShapesAsGiven()
    {
        static Dictionary<string, object?> Frame(string file, string? module = null, object? inApp = null, bool withInApp = false)
        {
            var f = new Dictionary<string, object?> { ["filename"] = file, ["abs_path"] = "/srv/app/" + file, ["lineno"] = 12L, ["function"] = "main::work" };
            if (module is not null) f["module"] = module;
            if (withInApp) f["in_app"] = inApp;
            return f;
        }
        var exception = new Dictionary<string, object?>
        {
            ["values"] = new List<object?>
            {
                new Dictionary<string, object?>
                {
                    ["type"] = "Error", ["value"] = "boom at x.pl line 3.",
                    ["stacktrace"] = new Dictionary<string, object?>
                    {
                        ["frames"] = new List<object?>
                        {
                            Frame("x.pl"), Frame("/usr/share/perl5/Try/Tiny.pm", "Try::Tiny"), Frame("y.pl", withInApp: true, inApp: false),
                            Frame("z.pl", withInApp: true), "not a frame", 5L,
                        },
                        ["registers"] = new Dictionary<string, object?>(),
                    },
                    ["mechanism"] = new Dictionary<string, object?> { ["type"] = "generic", ["handled"] = true },
                },
                new Dictionary<string, object?> { ["type"] = "NoStack", ["stacktrace"] = null },
                new Dictionary<string, object?> { ["type"] = "OddStack", ["stacktrace"] = "a string" },
                new Dictionary<string, object?> { ["type"] = "OddFrames", ["stacktrace"] = new Dictionary<string, object?> { ["frames"] = "none" } },
                "not an exception",
            },
        };
        Same(new Dictionary<string, object?> { ["level"] = "error", ["exception"] = exception, ["event_id"] = Id });
        Same(new Dictionary<string, object?> { ["exception"] = null, ["event_id"] = Id });
        Same(new Dictionary<string, object?> { ["exception"] = new List<object?> { 1L, "x" }, ["event_id"] = Id });
        Same(new Dictionary<string, object?> { ["exception"] = new Dictionary<string, object?> { ["values"] = "all of them" } });
    }

    [Test]
    public void ExceptionFrames_CarryTheirSourceLines_BothWays()
    {
        var file = Path.Combine(Path.GetTempPath(), $"perlsentry-direct-{Guid.NewGuid():N}.pl");
        File.WriteAllLines(file, Enumerable.Range(1, 30).Select(i => $"print \"line {i}\\n\";"));
        try
        {
            static Dictionary<string, object?> Frame(string? absPath, object? line, params (string, object?)[] more)
            {
                var f = new Dictionary<string, object?> { ["function"] = "main::work", ["module"] = "main", ["filename"] = "app.pl", ["abs_path"] = absPath, ["lineno"] = line };
                foreach (var (k, v) in more) f[k] = v;
                return f;
            }
            var values = new Dictionary<string, object?>
            {
                ["level"] = "error", ["event_id"] = Id,
                ["exception"] = new Dictionary<string, object?>
                {
                    ["values"] = new List<object?>
                    {
                        new Dictionary<string, object?>
                        {
                            ["type"] = "die", ["value"] = "boom",
                            ["stacktrace"] = new Dictionary<string, object?>
                            {
                                ["frames"] = new List<object?>
                                {
                                    Frame(file, 1L), Frame(file, "15"), Frame(file, 30L), Frame(file, 31L), Frame("app.pl", 3L), Frame(file, 2.5),
                                    Frame(file, 9L, ("context_line", "given"), ("in_app", false)),
                                },
                            },
                        },
                    },
                },
            };
            Same(values);
            var (_, direct) = Both(values);
            var frames = JObject.Parse(direct)["exception"]!["values"]![0]!["stacktrace"]!["frames"]!;
            Assert.Multiple(() =>
            {
                Assert.That((string?)frames[1]!["context_line"], Is.EqualTo("print \"line 15\\n\";"));
                Assert.That(frames[1]!["pre_context"]!.Count(), Is.EqualTo(5));
                Assert.That(frames[0]!["pre_context"]!.Count(), Is.EqualTo(0));
                Assert.That(frames[2]!["post_context"]!.Count(), Is.EqualTo(0));
                Assert.That(frames[3]!["context_line"], Is.Null, "past the end of the file");
                Assert.That(frames[4]!["context_line"], Is.Null, "no absolute path");
                Assert.That(frames[5]!["context_line"], Is.Null, "not a line number");
                Assert.That((string?)frames[6]!["context_line"], Is.EqualTo("given"), "the program's own is kept");
                Assert.That(frames[6]!["pre_context"], Is.Null);
            });
            var (_, without) = Both(values, options: new SentryOptions { IncludeSourceContext = false });
            Assert.That(without, Does.Not.Contain("pre_context"), "include_source_context => 0");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void PerlValuesOfEveryKind()
    {
        object? deep = "bottom";
        for (var i = 0; i < 70; i++)
            deep = new List<object?> { deep };
        Same(new Dictionary<string, object?>
        {
            ["message"] = "ünïcødé \u0001 \"quoted\" \\ </script> \ud83d\ude00 lone \ud800",
            ["logger"] = "app",
            ["modules"] = new Dictionary<string, object?> { ["Plack"] = "1.0050", ["weird"] = 1.5, ["int"] = 3, ["nan"] = double.NaN, ["inf"] = double.PositiveInfinity },
            ["request"] = new Dictionary<string, object?> { ["url"] = "http://x/y", ["data"] = new List<object?> { true, false, null, 0L, -1L, 1e300 } },
            ["deep"] = deep,
            ["event_id"] = Id,
        });
    }

    [TestCase("tags")]
    [TestCase("contexts")]
    [TestCase("breadcrumbs")]
    [TestCase("timestamp")]
    [TestCase("threads")]
    [TestCase("user")]
    public void AnEventWithWhatTheClientFillsIn_TakesTheTree(string key) =>
        Assert.That(DirectEvent.Applies(new Dictionary<string, object?> { ["message"] = "m", [key] = new Dictionary<string, object?>() }), Is.False);

    [Test]
    public void OddIdsOrFrameNames_TakeTheTree()
    {
        Assert.That(DirectEvent.Applies(new Dictionary<string, object?> { ["event_id"] = 5L }), Is.False);
        var frames = new List<object?> { new Dictionary<string, object?> { ["module"] = 5L } };
        var exception = new Dictionary<string, object?>
        {
            ["values"] = new List<object?> { new Dictionary<string, object?> { ["stacktrace"] = new Dictionary<string, object?> { ["frames"] = frames } } },
        };
        Assert.That(DirectEvent.Applies(new Dictionary<string, object?> { ["exception"] = exception }), Is.False);
    }

    [Test]
    public void TheHub_WritesDirectlyOnlyWhereNothingIsToSeeTheEvent()
    {
        var recorded = new RecordingTransport();
        var seen = 0;
        var hub = new Hub(new SentryOptions { BeforeSend = e => { seen++; return e; } }, recorded);
        Assert.That(hub.TryCaptureDirect(Message(), InApp, out _), Is.False, "before_send is to see it");
        hub = new Hub(new SentryOptions(), recorded);
        hub.PushScope().AddEventProcessor(e => e);
        Assert.That(hub.TryCaptureDirect(Message(), InApp, out _), Is.False, "an event processor is to see it");
        hub.PopScope();
        Assert.That(hub.TryCaptureDirect(Message(), InApp, out var id), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(id, Is.EqualTo(Id));
            Assert.That(hub.LastEventId, Is.EqualTo(Id));
            Assert.That(EnvelopeConformance.Check(recorded.Sent.Single().Serialize(DateTimeOffset.UtcNow)), Is.Empty);
            Assert.That(seen, Is.Zero);
        });
    }

    [Test]
    public void SampledOut_IsDroppedAndCounted_WithNoId()
    {
        var recorded = new RecordingTransport();
        var hub = new Hub(new SentryOptions { SampleRate = 0 }, recorded);
        Assert.That(hub.TryCaptureDirect(Message(), InApp, out var id), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(id, Is.Null);
            Assert.That(recorded.Sent, Is.Empty);
            Assert.That(hub.Client.Reports.Count(DiscardReason.SampleRate, DataCategory.Error), Is.EqualTo(1));
        });
    }

    [Test]
    public void AnEventsEnvelopeWrittenByHand_IsTheOneFromTheHeadersTree()
    {
        var sdk = RawJson.From(new JObject { ["name"] = SdkInfo.Default.Name, ["version"] = SdkInfo.Default.Version });
        EnvelopeItem[] items = [new("event", """{"message":"ünï"}"""), new("profile", "{}", Platform: "perl")];
        JObject?[] dscs =
        [
            null,
            new JObject { ["trace_id"] = Id, ["public_key"] = "pk", ["sample_rate"] = "0.5", ["transaction"] = "GET \"x\"" },
            new JObject { ["trace_id"] = Id },   // no key: no DSC
        ];
        foreach (var dsc in dscs)
        {
            var byHand = SerializedEnvelope.OfEvent(Id, sdk, items, dsc);
            var fromTree = SerializedEnvelope.From(Envelope.FromItems(Id, SdkInfo.Default, items, dsc));
            Assert.That(byHand.Bytes, Is.EqualTo(fromTree.Bytes), dsc?.ToString() ?? "no dsc");
            Assert.That(byHand.Items, Is.EqualTo(fromTree.Items));
        }
    }

    /// <summary>One finished transaction captured both ways: straight to JSON, and through the tree (a before_send_transaction that keeps it as it is).</summary>
    private static void SameTransaction(Action<Transaction, Hub> build, Action<Hub>? arrangeScope = null, bool defaults = true, string? threadId = "11")
    {
        var clock = new TransportFixture.ManualClock { UnixNs = 1_764_489_600_123_456_789 };
        Hub NewHub(RecordingTransport t, bool tree)
        {
            var hub = new Hub(new SentryOptions
            {
                Release = "app@1.2", TracesSampleRate = 1,
                BeforeSendTransaction = tree ? e => e : null,
            }, t, clock) { ThreadId = threadId, ThreadName = threadId is null ? null : "worker" };
            if (defaults)
            {
                hub.Client.SetDefaultContext("runtime", new JObject { ["name"] = "perl", ["version"] = "5.36.0" });
                hub.Client.SetDefaultContext("os", new JObject { ["name"] = "Linux" });
            }
            arrangeScope?.Invoke(hub);
            return hub;
        }
        var directSent = new RecordingTransport();
        var treeSent = new RecordingTransport();
        var direct = NewHub(directSent, tree: false);
        var tree = NewHub(treeSent, tree: true);
        var tx = direct.StartTransaction(new TransactionContext { Name = "GET /orders", Op = "http.server", Source = "route" });
        build(tx, direct);
        clock.UnixNs += 5_000_000;
        tx.Finish(clock.UnixNs);   // the direct hub sends it
        tree.Client.CaptureTransaction(tx, tree.CurrentScope, null);
        var a = directSent.Sent.Single();
        var b = treeSent.Sent.Single();
        Assert.That(a.Items.Single().Payload, Is.EqualTo(b.Items.Single().Payload));
        Assert.That(a.Serialize(DateTimeOffset.UnixEpoch), Is.EqualTo(b.Serialize(DateTimeOffset.UnixEpoch)), "the same envelope header (DSC)");
    }

    [Test]
    public void Transaction_WithSpansAndTheThreadThatRanIt() =>
        SameTransaction((tx, hub) =>
        {
            for (var i = 0; i < 3; i++)
                tx.StartChild("op" + i, i == 1 ? "described" : null, hub.Clock.UnixNs).Finish(hub.Clock.UnixNs);
            tx.StartChild("never", "finished", hub.Clock.UnixNs);
        });

    [Test]
    public void Transaction_WithItsOwnTagsDataContextsAndStatus_UnderAFullScope() =>
        SameTransaction((tx, hub) =>
        {
            tx.Tags["mine"] = "1";
            tx.Tags["shared"] = "tx wins";
            tx.SetHttpStatus(404);
            tx.Data["thread.id"] = "the thread replaces this";
            tx.Data["rows"] = 12;
            tx.Contexts["profile"] = new JObject { ["profile_id"] = Id };
            tx.Contexts["runtime"] = new JObject { ["name"] = "its own" };
            var child = tx.StartChild("db", "q", hub.Clock.UnixNs);
            child.Data["thread.name"] = "the span's own stays";
            child.Tags["t"] = "v";
            child.Finish(hub.Clock.UnixNs);
        }, hub =>
        {
            var s = hub.CurrentScope;
            s.Tags["shared"] = "scope";
            s.Tags["scope-only"] = "2";
            s.Extra["e"] = 1;
            s.User = new JObject { ["id"] = 3 };
            s.Contexts["os"] = new JObject { ["name"] = "not this" };
            s.Contexts["app"] = new JObject { ["v"] = "9" };
            s.Level = "fatal";            // not for transactions
            s.TransactionName = "other";  // nor this
            s.Fingerprint.Add("fp");
            hub.AddBreadcrumb(new JObject { ["message"] = "not in transactions" });
        });

    [Test]
    public void Transaction_ScopeTagsOnly_NoThread_NoDefaults() =>
        SameTransaction((tx, hub) => tx.Contexts["trace"] = new JObject { ["replaced"] = true },
            hub => hub.CurrentScope.Tags["s"] = "1", defaults: false, threadId: null);
}
