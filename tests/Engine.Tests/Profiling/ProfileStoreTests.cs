using PerlSentry.Engine.Profiling;

namespace PerlSentry.Engine.Tests.Profiling;

public sealed class ProfileStoreTests
{
    [Test]
    public void Add_SameStackTwice_InternsFramesAndStacks()
    {
        var store = StoreFixture.Make();
        Assert.That(store.Frames, Has.Count.EqualTo(4));
        Assert.That(store.Stacks, Has.Count.EqualTo(2));
        Assert.That(store.Samples.Select(s => s.StackId), Is.EqualTo(new[] { 0, 0, 1 }));
        Assert.That(store.Stacks[0], Is.EqualTo(new[] { 0, 1, 2 }), "innermost frame first");
    }

    [Test]
    public void Snapshot_Window_KeepsOnlySamplesInside()
    {
        var snap = StoreFixture.Make().Snapshot(1_500, 3_000);
        Assert.That(snap.Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 2_000, 3_000 }));
        Assert.That(snap.TotalWeight, Is.EqualTo(2));
    }

    [Test]
    public void Samples_AddedOutOfTimeOrder_AreHeldInTimeOrder_AndWindowsFindThem()
    {
        // Drains of two threads into one store can come out of time order.
        var store = new ProfileStore();
        var frames = new[] { new ProfileFrame("main", "main", "a.pl", null, 1, true) };
        foreach (var t in new long[] { 10, 40, 20, 40, 5, 50, 30 })
            store.Add(frames, t == 40 ? 2 : 1, t, 1);
        Assert.That(store.Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 5, 10, 20, 30, 40, 40, 50 }));
        Assert.That(store.Snapshot(20, 40).Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 20, 30, 40, 40 }), "bounds inclusive");
        Assert.That(store.Snapshot(41, 49).Samples, Is.Empty);
        Assert.That(store.Snapshot(long.MinValue, 9).Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 5 }));
        Assert.That(store.Snapshot(50, long.MaxValue).Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 50 }));
    }

    [Test]
    public void Markers_WeighNoTicks_ButAreSamplesInSentrysFormats()
    {
        var store = new ProfileStore();
        var frames = new[] { new ProfileFrame("main", "main", "a.pl", null, 1, true) };
        store.Add(frames, 1, 10, 0);   // a profile's start marker
        store.Add(frames, 1, 20, 3);   // a sample standing for 3 ticks
        store.Add(frames, 1, 90, 0);   // its end marker
        var snap = store.Snapshot();
        Assert.That(snap.TotalWeight, Is.EqualTo(3));
        Assert.That(snap.WrittenSamples, Is.EqualTo(5));
        Assert.That(snap.Ticks().Samples.Select(s => s.TimestampNs), Is.EqualTo(new long[] { 20 }), "what weighs time by ticks leaves markers out");
    }

    [Test]
    public void Retain_KeepsExactlyTheSamplesInsideAnyWindow()
    {
        var frames = new[] { new ProfileFrame("main", "main", "a.pl", null, 1, true) };
        var times = new long[] { 1, 5, 5, 9, 10, 14, 20, 21, 30, 41 };
        var cases = new TimeWindow[][]
        {
            [],
            [new(long.MinValue, long.MaxValue)],
            [new(5, 10)],
            [new(20, 40), new(1, 5)],                 // not in order
            [new(4, 14), new(9, 21), new(10, 12)],    // overlapping, one inside another
            [new(long.MinValue, 0), new(42, long.MaxValue)],
            [new(30, long.MaxValue), new(long.MinValue, 1)],
        };
        foreach (var windows in cases)
        {
            var store = new ProfileStore();
            foreach (var t in times)
                store.Add(frames, 1, t, 1);
            var expected = times.Where(t => windows.Any(w => t >= w.From && t <= w.To)).ToArray();
            Assert.That(store.Retain(windows), Is.EqualTo(times.Length - expected.Length));
            Assert.That(store.Samples.Select(s => s.TimestampNs), Is.EqualTo(expected), string.Join(" ", windows.Select(w => $"{w.From}..{w.To}")));
        }
    }

    [Test]
    public void Retain_PastCompactFrom_KeepsOnlyTheFramesAndStacksOfTheKeptSamples_SnapshotsKeepTheirs()
    {
        var store = new ProfileStore { CompactFrom = 10 };
        ProfileFrame F(int line) => new("main::f", "main", "a.pl", null, line, true);
        for (var i = 0; i < 12; i++)
            store.Add([F(i), F(1000)], threadId: 1, timestampNs: 100 + i, weight: 1);
        var before = store.Snapshot();
        store.Retain([new TimeWindow(110, 111)]);
        Assert.Multiple(() =>
        {
            Assert.That((store.Frames.Count, store.Stacks.Count), Is.EqualTo((3, 2)), "what samples 110 and 111 use");
            Assert.That(store.Samples.Select(s => store.Snapshot().FramesOf(s).First().Line), Is.EqualTo(new[] { 10, 11 }), "the kept samples read the same frames");
            Assert.That(before.FramesOf(before.Samples[0]).Select(f => f.Line), Is.EqualTo(new[] { 0, 1000 }), "an earlier snapshot still reads its own");
        });
        store.Add([F(5), F(1000)], threadId: 1, timestampNs: 500, weight: 1);
        Assert.That(store.Snapshot().FramesOf(store.Samples[^1]).Select(f => f.Line), Is.EqualTo(new[] { 5, 1000 }));
        store.Retain([new TimeWindow(0, 1000)]);
        Assert.That(store.Stacks, Has.Count.EqualTo(3), "under the threshold again: not rebuilt");
        store.Retain([]);
        Assert.That(store.Stacks, Has.Count.EqualTo(3), "interned stacks stay while under the threshold");
    }

    [Test]
    public void Retain_NoSampleLeft_UnderCompactFrom_KeepsWhatIsInterned()
    {
        var store = StoreFixture.Make();
        store.Retain([]);
        Assert.That((store.Frames.Count, store.Stacks.Count), Is.EqualTo((4, 2)));
    }
}
