using PerlSentry.Engine.Profiling;

namespace PerlSentry.Engine.Tests.Profiling;

/// <summary>The store's frames and stacks: views that later adds do not change, read while one writer adds.</summary>
[TestFixture]
public sealed class AppendOnlyListTests
{
    [Test]
    public void AView_KeepsItsLength_AndItsItems_WhileTheListGrowsPastManyChunks()
    {
        var list = new AppendOnlyList<int>();
        for (var i = 0; i < 1500; i++) list.Add(i);
        var view = list.View();
        for (var i = 1500; i < 20_000; i++) list.Add(i);
        Assert.That(view, Has.Count.EqualTo(1500));
        Assert.That(view, Is.EqualTo(Enumerable.Range(0, 1500)));
        Assert.That(view[1499], Is.EqualTo(1499));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = view[1500]);
        Assert.That(list.View(), Is.EqualTo(Enumerable.Range(0, 20_000)));
        Assert.That(list[19_999], Is.EqualTo(19_999));
    }

    [Test]
    public void ReadersOnOtherThreads_SeeEveryItemTheyCount_WhileOneWriterAdds()
    {
        var list = new AppendOnlyList<string>();
        var done = false;
        var wrong = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!Volatile.Read(ref done))
            {
                var view = list.View();
                for (var i = Math.Max(0, view.Count - 50); i < view.Count; i++)
                    if (view[i] != i.ToString(System.Globalization.CultureInfo.InvariantCulture))
                        Interlocked.Increment(ref wrong);
            }
        })).ToArray();
        for (var i = 0; i < 300_000; i++)
            list.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Volatile.Write(ref done, true);
        Task.WaitAll(readers);
        Assert.That(wrong, Is.Zero);
        Assert.That(list.Count, Is.EqualTo(300_000));
    }
}
