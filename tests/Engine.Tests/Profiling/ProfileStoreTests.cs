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
}
