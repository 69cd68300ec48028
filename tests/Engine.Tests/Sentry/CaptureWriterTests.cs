using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Session;
using PerlSentry.Engine.Tests.Session;

namespace PerlSentry.Engine.Tests.Sentry;

/// <summary>
/// Envelopes written off the program's thread (<see cref="CaptureWriter"/>): in order, drained by
/// flush, never dropped when far behind; and what is written is the program's state at the call,
/// not what it changed afterwards.
/// </summary>
[TestFixture]
public sealed class CaptureWriterTests
{
    [Test]
    public void Work_RunsInOrder_OffTheCallersThread_AndDrainWaitsForIt()
    {
        using var writer = new CaptureWriter("test writer");
        var done = new List<int>();
        var threads = new HashSet<int>();
        for (var i = 0; i < 200; i++)
        {
            var n = i;
            writer.Post(() =>
            {
                Thread.Sleep(n % 50 == 0 ? 5 : 0);
                lock (done) { done.Add(n); threads.Add(Environment.CurrentManagedThreadId); }
            });
        }
        Assert.That(writer.Drain(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(done, Is.EqualTo(Enumerable.Range(0, 200)));
        Assert.That(threads, Has.Count.EqualTo(1).And.Not.Contain(Environment.CurrentManagedThreadId));
        Assert.That(writer.Pending, Is.Zero);
    }

    [Test]
    public void Work_PostedDuringABatchWait_OrAfterAQuietSpell_RunsWithoutADrain()
    {
        // The writer is not woken for each post while work keeps coming (it looks every BatchEvery),
        // and after a quiet spell it sleeps until a post wakes it: neither may leave work unrun.
        using var writer = new CaptureWriter("test writer");
        using var ran = new CountdownEvent(3);
        writer.Post(() => ran.Signal());
        writer.Post(() => ran.Signal());   // most likely while the writer waits for its next batch
        Thread.Sleep(CaptureWriter.BatchEvery * 3);   // a quiet spell: the writer sleeps until woken
        writer.Post(() => ran.Signal());
        Assert.That(ran.Wait(TimeSpan.FromSeconds(10)), Is.True, $"{ran.CurrentCount} piece(s) of work never ran");
        Assert.That(() => writer.Pending, Is.Zero.After(1000, 10));
    }

    [Test]
    public void FarBehind_TheCallerWritesItsOwn_NothingIsDropped()
    {
        using var writer = new CaptureWriter("test writer");
        using var gate = new ManualResetEventSlim();
        var ran = 0;
        writer.Post(() => gate.Wait());   // the writer is stuck on this one
        for (var i = 0; i < CaptureWriter.MaxQueued; i++)
            writer.Post(() => Interlocked.Increment(ref ran));
        var inline = -1;
        writer.Post(() => inline = Environment.CurrentManagedThreadId);   // one too many: done here, now
        Assert.That(inline, Is.EqualTo(Environment.CurrentManagedThreadId));
        Assert.That(writer.Drain(TimeSpan.FromMilliseconds(50)), Is.False, "still stuck");
        gate.Set();
        Assert.That(writer.Drain(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(ran, Is.EqualTo(CaptureWriter.MaxQueued));
    }

    [Test]
    public void AFailingPieceOfWork_IsSaid_AndTheNextOneRuns()
    {
        using var writer = new CaptureWriter("test writer");
        var failures = new List<string>();
        writer.Failed = e => { lock (failures) failures.Add(e.Message); };
        var after = false;
        writer.Post(() => throw new InvalidOperationException("broken"));
        writer.Post(() => after = true);
        Assert.That(writer.Drain(TimeSpan.FromSeconds(10)), Is.True);
        Assert.That(failures, Is.EqualTo(new[] { "broken" }));
        Assert.That(after, Is.True);
    }

    [Test]
    public void WhatIsWritten_IsTheStateAtTheCall_NotWhatTheProgramChangedAfterwards()
    {
        using var writer = new CaptureWriter("test writer");
        using var gate = new ManualResetEventSlim();
        var (session, sampler, transport) = ProfilingSession(writer);
        using var _ = session;
        object? Call(string name, params object?[] args) => SessionCalls.Call(session, name, args);
        writer.Post(() => gate.Wait());   // nothing is written until the program has changed everything

        Call("scope_set", EngineSession.RootScopeId, "set_tag", "stage", "at the call");
        Call("transaction_start", 8L, new Dictionary<string, object?> { ["name"] = "job", ["op"] = "task" }, null);
        Call("scope_set", EngineSession.RootScopeId, "set_span", 8L);
        Call("span_start", 9L, 8L, new Dictionary<string, object?> { ["op"] = "db" });
        sampler.Advance(TimeSpan.FromMilliseconds(50));
        Call("span_set", 9L, "finish");
        var eventId = (string?)Call("capture_event", new Dictionary<string, object?> { ["message"] = new Dictionary<string, object?> { ["formatted"] = "m" }, ["level"] = "info" });
        Call("transaction_finish", 8L, null);
        // What the program does next must not reach what was captured.
        Call("scope_set", EngineSession.RootScopeId, "set_tag", "stage", "later");
        Call("scope_set", EngineSession.RootScopeId, "set_span", null);
        Call("span_set", 9L, "set_data", "rows", 3L);
        Call("span_set", 8L, "set_tag", "late", "1");
        Call("span_start", 10L, 8L, new Dictionary<string, object?> { ["op"] = "late" });
        Call("span_set", 10L, "finish");
        Assert.That(transport.Sent, Is.Empty, "written by the writer, not at the call");

        gate.Set();
        Assert.That(session.Hub.Flush(TimeSpan.FromSeconds(10)), Is.True);
        var evt = JObject.Parse(transport.Items("event").Single().Payload);
        Assert.That((string?)evt["event_id"], Is.EqualTo(eventId));
        Assert.That((string?)evt["tags"]!["stage"], Is.EqualTo("at the call"));
        var tx = JObject.Parse(transport.Items("transaction").Single().Payload);
        Assert.That((string?)evt["contexts"]!["trace"]!["span_id"], Is.EqualTo((string?)tx["contexts"]!["trace"]!["span_id"]), "the event joined the span active at the call");
        Assert.That((string?)tx["tags"]!["stage"], Is.EqualTo("at the call"));
        Assert.That(tx["tags"]!["late"], Is.Null);
        var spans = (JArray)tx["spans"]!;
        Assert.That(spans.Select(s => (string?)s["op"]), Is.EqualTo(new[] { "db" }));
        Assert.That(spans[0]["data"]!["rows"], Is.Null);
        var profile = JObject.Parse(transport.Items("profile").Single().Payload);
        Assert.That((string?)profile["transaction"]!["id"], Is.EqualTo((string?)tx["event_id"]));
        Assert.That((string?)tx["contexts"]!["profile"]!["profile_id"], Is.EqualTo((string?)profile["event_id"]));
    }

    [Test]
    public void AProfileFinishedJustBeforeShutdown_IsWrittenWithAllItsSamples_AfterItsProfilerWasDisposed()
    {
        // The writer drains and exports a finished profile; at exit the session disposes its profilers
        // first, which must not take the samples that export still needs (the README's example lost its
        // last profile about half the time when they did).
        Assert.That(SamplesWrittenAfter(profiler => profiler.Dispose()), Is.GreaterThanOrEqualTo(120), "120 ticks and the two markers");
    }

    [Test]
    public void AProfileFinishedJustBeforeTheProfilersSettingsChange_IsWrittenWithAllItsSamples()
    {
        // A setter ($profiler->profile_lifecycle(...)) makes a new transaction profiler; the profile the
        // old one finished is still waiting for the writer, and the new one's trims must leave its samples.
        Assert.That(SamplesWrittenAfter(profiler => profiler.Reconfigure(profiler.Options with { MaxProfileDuration = 20 })),
            Is.GreaterThanOrEqualTo(120), "120 ticks and the two markers");
    }

    /// <summary>
    /// How many samples a profile of 1.2 s is written with when <paramref name="meanwhile"/> happens to its
    /// profiler after the transaction finished and before the (held) writer exported it, with 2 s of the
    /// sampler's drains and trims after it.
    /// </summary>
    private static int SamplesWrittenAfter(Action<HubProfiler> meanwhile)
    {
        using var writer = new CaptureWriter("test writer");
        using var gate = new ManualResetEventSlim();
        var (session, sampler, transport) = ProfilingSession(writer);
        using var _ = session;
        object? Call(string name, params object?[] args) => SessionCalls.Call(session, name, args);
        writer.Post(() => gate.Wait());
        Call("transaction_start", 8L, new Dictionary<string, object?> { ["name"] = "report", ["op"] = "task" }, null);
        sampler.Advance(TimeSpan.FromMilliseconds(1_200));   // a drain at 1 s moves the first 100 ticks into the store
        Call("transaction_finish", 8L, null);
        meanwhile((HubProfiler)session.Hub.Profiler!);
        sampler.Advance(TimeSpan.FromSeconds(2));   // drains, and trims with the windows the profiler says now
        gate.Set();
        Assert.That(session.Hub.Flush(TimeSpan.FromSeconds(10)), Is.True);
        return JObject.Parse(transport.Items("profile").Single().Payload)["profile"]!["samples"]!.Count();
    }

    /// <summary>A session writing on <paramref name="writer"/>, initialised with tracing and profiling at 100%, sampled by a fake.</summary>
    private static (EngineSession Session, FakeSampler Sampler, RecordingTransport Transport) ProfilingSession(CaptureWriter writer)
    {
        var sampler = new FakeSampler();
        var transport = new RecordingTransport();
        var session = new EngineSession(new SessionHost(() => sampler, sampler, new HostInfo("x86_64", "Linux", "6.1", "5.36.0"),
            "42", "main", [], _ => { })
        {
            Transports = (_, _, _, _) => (transport, new ClientReports()),
            Writer = writer,
        });
        SessionCalls.Call(session, "init",
        [
            new Dictionary<string, object?> { ["dsn"] = "https://key@o1.ingest.sentry.io/1", ["traces_sample_rate"] = 1.0, ["profiles_sample_rate"] = 1.0 },
            new Dictionary<string, object?>(),
        ]);
        return (session, sampler, transport);
    }
}
