using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Tests.Session;

/// <summary>
/// Sessions that share one process's sample store (the agent's ithreads of one client, standalone
/// profilers in one interpreter): one profiler's trim must not take another's samples.
/// </summary>
[TestFixture]
public sealed class SharedSamplerTests
{
    private static readonly HostInfo Host = new("x86_64", "Linux", "6.1", "5.36.0");

    private static (Hub Hub, RecordingTransport Sent) Session(FakeSampler sampler)
    {
        var sent = new RecordingTransport();
        var hub = new Hub(new SentryOptions { TracesSampleRate = 1.0, ProfilesSampleRate = 1.0, EnableProfiling = true, CacheDir = "" }, sent, sampler);
        _ = new HubProfiler(hub, sampler, Host, new InAppRules([]), null);
        return (hub, sent);
    }

    [Test]
    public void AnotherSessionsTrim_KeepsTheSamplesOfAProfileThatJustStarted()
    {
        var sampler = new FakeSampler();
        var (a, sentA) = Session(sampler);
        var (b, _) = Session(sampler);
        var txB = b.StartTransaction(new TransactionContext { Name = "b" });
        sampler.Advance(TimeSpan.FromMilliseconds(50));
        var txA = a.StartTransaction(new TransactionContext { Name = "a" });   // within the second: no drain has told anyone yet
        sampler.Advance(TimeSpan.FromMilliseconds(100));
        txB.Finish(sampler.Now);   // B's profile ends and B trims the shared store
        sampler.Advance(TimeSpan.FromMilliseconds(100));
        txA.Finish(sampler.Now);
        var profile = sentA.Items("profile").SingleOrDefault();
        Assert.That(profile, Is.Not.Null, "A's profile was sent, not dropped for want of samples");
        var samples = Newtonsoft.Json.Linq.JObject.Parse(profile!.Payload)["profile"]!["samples"]!.Count();
        Assert.That(samples, Is.GreaterThanOrEqualTo(15), "its 200 ms of samples are all there");
    }

    [Test]
    public void SampleNeeds_ForgetWhatNoOneNeeds_AndDoNotWalkTheStoreWhenNeedsOnlyGrow()
    {
        var store = new ProfileStore();
        var needs = new SampleNeeds(store) { WalkEvery = TimeSpan.Zero };
        var frames = new[] { new ProfileFrame("main", "main", "a.pl", null, 1, true) };
        object a = new(), b = new();
        needs.Set(a, [new TimeWindow(0, 100)]);
        needs.Set(b, [new TimeWindow(50, 200)]);
        foreach (var t in new long[] { 10, 60, 150, 300 })
            store.Add(frames, 1, t, 1);
        needs.Set(a, [new TimeWindow(0, 100), new TimeWindow(250, 400)]);   // grew: nothing is forgotten, not even the sample at 300 nobody needed before
        Assert.That(store.Snapshot().Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 10, 60, 150, 300 }));
        needs.Set(b, []);
        Assert.That(store.Snapshot().Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 10, 60, 300 }), "150 only b needed");
        needs.Set(a, [new TimeWindow(250, 400)]);
        Assert.That(store.Snapshot().Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 300 }));
    }

    [Test]
    public void SampleNeeds_WalkTheStoreAtMostEveryWalkEvery_WhileAnythingIsNeeded_AndForgetAllWhenNothingIs()
    {
        var store = new ProfileStore();
        var needs = new SampleNeeds(store) { WalkEvery = TimeSpan.FromHours(1) };
        var frames = new[] { new ProfileFrame("main", "main", "a.pl", null, 1, true) };
        object a = new(), b = new();
        needs.Set(a, [new TimeWindow(0, 100)]);
        needs.Set(b, [new TimeWindow(50, 200)]);
        foreach (var t in new long[] { 10, 60, 150 })
            store.Add(frames, 1, t, 1);
        needs.Set(b, []);   // the first walk
        Assert.That(store.Snapshot().Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 10, 60 }));
        needs.Set(a, [new TimeWindow(50, 100)]);   // shrank, but the last walk was just now
        Assert.That(store.Snapshot().Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 10, 60 }), "kept until the next walk");
        needs.Set(a, []);
        Assert.That(store.Snapshot().Samples, Is.Empty, "nothing is needed: all goes at once");
    }
}
