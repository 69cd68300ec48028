using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling.Export;

namespace PerlSentry.Engine.Tests.Profiling;

public sealed class ExportersTests
{
    [Test]
    public void Collapsed_IsRootFirstWithTickCounts() =>
        Assert.That(CollapsedExporter.Export(StoreFixture.Make().Snapshot()),
            Is.EqualTo("main;main::work;POSIX::nap 1\nmain;main::work;main::fib 3\n"));

    [Test]
    public void Speedscope_HasFramesSamplesAndWallTimeWeights()
    {
        var json = JObject.Parse(SpeedscopeExporter.Export(StoreFixture.Make().Snapshot(), "app.pl"));
        Assert.That((string?)json["$schema"], Is.EqualTo("https://www.speedscope.app/file-format-schema.json"));
        Assert.That(json["shared"]!["frames"]!.Select(f => (string?)f["name"]), Is.EqualTo(new[] { "main::fib", "main::work", "main", "POSIX::nap" }));
        var profile = json["profiles"]![0]!;
        Assert.That((string?)profile["type"], Is.EqualTo("sampled"));
        Assert.That((string?)profile["name"], Is.EqualTo("main (7)"));
        Assert.That(profile["samples"]![0]!.Select(i => (int)i), Is.EqualTo(new[] { 2, 1, 0 }), "root first");
        Assert.That(profile["weights"]!.Select(w => (double)w), Is.EqualTo(new[] { 20.0, 10.0, 10.0 }));
        Assert.That((double)profile["endValue"]!, Is.EqualTo(40.0));
    }

    [Test]
    public void FunctionStats_SelfAndTotal()
    {
        var stats = FunctionStats.Compute(StoreFixture.Make().Snapshot()).ToDictionary(s => s.Function);
        Assert.That(stats["main::fib"], Is.EqualTo(new FunctionStats("main::fib", "app.pl:1", 3, 3)));
        Assert.That(stats["main::work"].SelfWeight, Is.Zero);
        Assert.That(stats["main::work"].TotalWeight, Is.EqualTo(4));
        Assert.That(FunctionStats.Table(StoreFixture.Make().Snapshot()), Does.Contain(" 75.0%    75.0%  main::fib"));
    }

    [Test]
    public void FlameGraph_IsOneSelfContainedFile()
    {
        var store = StoreFixture.Make();
        store.Add([new("main::</script><b>x", "main", "a.pl", null, 1, true), StoreFixture.Main], 7, 4_000, 1);
        var html = FlameGraphExporter.Export(store.Snapshot(), "app <1>.pl");
        Assert.That(html, Does.StartWith("<!DOCTYPE html>"));
        Assert.That(html, Does.Not.Contain("http://").And.Not.Contain("src="), "no network");
        Assert.That(html, Does.Contain("app &lt;1&gt;.pl"));
        Assert.That(html, Does.Contain("\"n\":\"main::fib\""));
        Assert.That(html.Split("</script>").Length, Is.EqualTo(2), "a frame name cannot close the script");
        Assert.That(html, Does.Contain("\"a\":0"), "library frames are marked");
    }
}
