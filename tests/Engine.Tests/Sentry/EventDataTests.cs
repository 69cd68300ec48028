using Newtonsoft.Json.Linq;
using NUnit.Framework;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Session;
using PerlSentry.Engine.Tests.Sentry.Transport;
using PerlSentry.Engine.Tests.Session;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Tests.Sentry;

/// <summary>What events and transactions say, as Sentry shows it: their trace, their status, their code.</summary>
[TestFixture]
public sealed class EventDataTests
{
    private static (Hub Hub, RecordingTransport Sent) NewHub(SentryOptions? options = null)
    {
        var sent = new RecordingTransport();
        var hub = new Hub(options ?? new SentryOptions { Dsn = Dsn.Parse("https://key@example.com/42"), Release = "app@1", TracesSampleRate = 1.0 },
            sent, new TransportFixture.ManualClock { UnixNs = 1_764_489_600_000_000_000 });
        return (hub, sent);
    }

    private static JObject Payload(Envelope e) => JObject.Parse(e.Items[0].Payload);

    [Test]
    public void AnErrorOutsideASpan_JoinsTheScopesTrace_ItsEnvelopeCarriesTheDsc()
    {
        var (hub, sent) = NewHub();
        var trace = hub.CurrentScope.Propagation;
        hub.CaptureMessage("tree path");
        Assert.That(hub.Client.TryCaptureDirect(new Dictionary<string, object?> { ["message"] = "direct path" }, hub.CurrentScope, new InAppRules([]), out _), Is.True);
        hub.PushScope();
        hub.CaptureMessage("a pushed scope");
        Assert.That(sent.Sent, Has.Count.EqualTo(3));
        foreach (var e in sent.Sent)
        {
            var context = Payload(e)["contexts"]!["trace"]!;
            Assert.Multiple(() =>
            {
                Assert.That((string?)context["trace_id"], Is.EqualTo(trace.TraceId));
                Assert.That((string?)context["span_id"], Is.EqualTo(trace.SpanId));
                Assert.That(e.Header["trace"], Is.EqualTo(new JObject
                {
                    ["trace_id"] = trace.TraceId, ["public_key"] = "key", ["release"] = "app@1", ["environment"] = "production",
                }));
            });
        }
        Assert.That(trace.TraceId, Does.Match("^[0-9a-f]{32}$"));
        Assert.That(NewHub().Hub.CurrentScope.Propagation.TraceId, Is.Not.EqualTo(trace.TraceId), "each hub a trace of its own");
    }

    [Test]
    public void AnErrorInsideATransaction_JoinsTheTransactionsTraceInstead()
    {
        var (hub, sent) = NewHub();
        var tx = hub.StartTransaction(new TransactionContext { Name = "job", Op = "task" });
        hub.CurrentScope.Span = tx;
        hub.CaptureMessage("inside");
        var evt = sent.Sent.Single();
        Assert.That((string?)Payload(evt)["contexts"]!["trace"]!["trace_id"], Is.EqualTo(tx.TraceId));
        Assert.That((string?)evt.Header["trace"]!["transaction"], Is.EqualTo("job"));
        Assert.That(tx.TraceId, Is.Not.EqualTo(hub.CurrentScope.Propagation.TraceId));
    }

    [Test]
    public void ATransactionFinishedWithoutAStatus_IsOk_OneWithAStatusKeepsIt()
    {
        var (hub, sent) = NewHub();
        var plain = hub.StartTransaction(new TransactionContext { Name = "fine" });
        plain.Finish(hub.Clock.UnixNs + 1000);
        var failed = hub.StartTransaction(new TransactionContext { Name = "failed" });
        failed.Status = "internal_error";
        failed.Finish(hub.Clock.UnixNs + 1000);
        var statuses = sent.Sent.Select(e => (string?)Payload(e)["contexts"]!["trace"]!["status"]).ToList();
        Assert.That(statuses, Is.EqualTo(new[] { "ok", "internal_error" }));
    }

    [Test]
    public void SourceContext_FiveLinesEachWay_CutAtTheFilesEnds_NothingForWhatCannotBeRead()
    {
        var file = Path.Combine(Path.GetTempPath(), $"perlsentry-source-{Guid.NewGuid():N}.pl");
        File.WriteAllLines(file, Enumerable.Range(1, 12).Select(i => $"line {i};"));
        try
        {
            var source = new SourceContext();
            Assert.Multiple(() =>
            {
                Assert.That(source.TryGet(file, 7, out var pre, out var line, out var post), Is.True);
                Assert.That(pre, Is.EqualTo(new[] { "line 2;", "line 3;", "line 4;", "line 5;", "line 6;" }));
                Assert.That(line, Is.EqualTo("line 7;"));
                Assert.That(post, Is.EqualTo(new[] { "line 8;", "line 9;", "line 10;", "line 11;", "line 12;" }));
                Assert.That(source.TryGet(file, 1, out pre, out line, out post) && pre.Count == 0 && post.Count == 5 && line == "line 1;");
                Assert.That(source.TryGet(file, 12, out pre, out line, out post) && pre.Count == 5 && post.Count == 0);
                Assert.That(source.TryGet(file, 13, out _, out _, out _), Is.False, "past the end");
                Assert.That(source.TryGet(file, 0, out _, out _, out _), Is.False);
                Assert.That(source.TryGet("relative.pl", 1, out _, out _, out _), Is.False);
                Assert.That(source.TryGet(file + ".gone", 1, out _, out _, out _), Is.False);
                Assert.That(source.TryGet(Path.GetTempPath(), 1, out _, out _, out _), Is.False, "a folder");
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void SourceContext_WrittenText_IsTheTreesText_AlsoWhenCopiedFromTheFirstTime()
    {
        var file = Path.Combine(Path.GetTempPath(), $"perlsentry-source-{Guid.NewGuid():N}.pl");
        File.WriteAllLines(file, ["my $q = \"a\\tb\";", "\tindented();", "print \"\u00e9t\u00e9 \u2603\\n\";", "x();"]);
        try
        {
            var source = new SourceContext();
            string Written(long line)
            {
                var text = new StringWriter();
                using (var w = new Newtonsoft.Json.JsonTextWriter(text))
                {
                    w.WriteStartObject();
                    w.WritePropertyName("lineno");
                    w.WriteValue(line);
                    source.Write(w, file, line);
                    w.WritePropertyName("in_app");
                    w.WriteValue(true);
                    w.WriteEndObject();
                }
                return text.ToString();
            }
            string Tree(long line)
            {
                var frame = new JObject { ["lineno"] = line };
                source.AddTo(frame, file, line);
                frame["in_app"] = true;
                return frame.ToString(Newtonsoft.Json.Formatting.None);
            }
            Assert.Multiple(() =>
            {
                foreach (var line in new long[] { 1, 2, 3, 4 })
                {
                    Assert.That(Written(line), Is.EqualTo(Tree(line)), $"line {line}, first time");
                    Assert.That(Written(line), Is.EqualTo(Tree(line)), $"line {line}, copied");
                }
                Assert.That(Written(5), Is.EqualTo("{\"lineno\":5,\"in_app\":true}"), "past the end: no keys");
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void SourceContext_ALongLineIsCut()
    {
        var file = Path.Combine(Path.GetTempPath(), $"perlsentry-source-{Guid.NewGuid():N}.pl");
        File.WriteAllText(file, "my $x = '" + new string('a', 5000) + "';\n");
        try
        {
            var frame = new JObject();
            new SourceContext().AddTo(frame, file, 1);
            Assert.That(((string?)frame["context_line"])!.Length, Is.EqualTo(SourceContext.MaxLineLength));
            Assert.That((string?)frame["context_line"], Does.EndWith("..."));
        }
        finally
        {
            File.Delete(file);
        }
    }
    [Test]
    public void LongStrings_AreCutToSentrysLimit_NeverMidCharacter()
    {
        var cut = EventSize.Cut(new string('a', 10_000_000));
        Assert.That(cut, Has.Length.EqualTo(EventSize.MaxStringLength));
        Assert.That(cut, Does.EndWith("..."));
        var emoji = new string('a', EventSize.MaxStringLength - 4) + "\U0001F600" + new string('b', 100);
        Assert.That(char.IsHighSurrogate(EventSize.Cut(emoji)[^4]), Is.False, "no half of a surrogate pair before the ...");
        Assert.That(EventSize.Cut("short"), Is.EqualTo("short"));
    }

    [Test]
    public void AnEventTooBigForSentry_LosesOldBreadcrumbsFirst_ThenExtra_AndIsDroppedOnlyWhenNothingHelps()
    {
        var big = new string('x', 8000);
        var evt = new JObject
        {
            ["message"] = new JObject { ["formatted"] = "kept" },
            ["breadcrumbs"] = new JObject { ["values"] = new JArray(Enumerable.Range(0, 200).Select(i => new JObject { ["message"] = $"{i} {big}" })) },
            ["extra"] = new JObject { ["small"] = 1 },
        };
        var fitted = EventSize.Fit(evt.ToString(Newtonsoft.Json.Formatting.None));
        Assert.That(fitted, Is.Not.Null);
        Assert.That(System.Text.Encoding.UTF8.GetByteCount(fitted!), Is.LessThanOrEqualTo(EventSize.MaxEventBytes));
        var kept = JObject.Parse(fitted!);
        var crumbs = (JArray)kept["breadcrumbs"]!["values"]!;
        Assert.That((string?)crumbs.Last!["message"], Does.StartWith("199 "), "the newest breadcrumbs stay");
        Assert.That(crumbs.Count, Is.LessThan(200).And.GreaterThan(50));
        Assert.That((int?)kept["extra"]!["small"], Is.EqualTo(1));

        var hopeless = new JObject { ["tags"] = new JObject(Enumerable.Range(0, 200).Select(i => new JProperty($"t{i}", big))) };
        Assert.That(EventSize.Fit(hopeless.ToString(Newtonsoft.Json.Formatting.None)), Is.Null);

        var (hub, sent) = NewHub();
        hub.CurrentScope.Tags["one"] = "1";
        Assert.That(hub.CaptureEvent(hopeless), Is.Null, "dropped");
        Assert.That(sent.Sent, Is.Empty);
        Assert.That(hub.Client.Reports.TakeItem(0)!.Payload, Does.Contain("send_error"), "and counted");
    }
}
