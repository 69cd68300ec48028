using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling;
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
    [Test]
    public void Speedscope_OneFramePerFunctionAndFile_AtItsLowestLine()
    {
        var store = StoreFixture.Make();
        store.Add([StoreFixture.Fib with { Line = 3 }, StoreFixture.Work with { Line = 6 }, StoreFixture.Main with { Line = 12 }], 7, 4_000, 1);
        var json = JObject.Parse(SpeedscopeExporter.Export(store.Snapshot(), "app.pl"));
        var frames = json["shared"]!["frames"]!;
        Assert.That(frames.Select(f => (string?)f["name"]), Is.EqualTo(new[] { "main::fib", "main::work", "main", "POSIX::nap" }), "a sub once, whatever lines it ran");
        Assert.That(frames.Select(f => (int)f["line"]!), Is.EqualTo(new[] { 1, 4, 9, 2 }));
        Assert.That(json["profiles"]![0]!["samples"]![3]!.Select(i => (int)i), Is.EqualTo(new[] { 2, 1, 0 }), "the other lines map to the same frames");
    }

    [Test]
    public void Lines_SelfAndTotalPerLine_WithTheirCode_AnchoredForTheFlameGraph()
    {
        var file = Path.Combine(Path.GetTempPath(), $"perlsentry-lines-{Guid.NewGuid():N}.pl");
        File.WriteAllLines(file, ["sub fib { my $n = shift; $n < 2 ? $n : fib($n - 1) + fib($n - 2) }", "", "", "sub work { fib(20) }", "", "", "", "", "work();"]);
        try
        {
            var store = new ProfileStore { Interval = TimeSpan.FromMilliseconds(10) };
            ProfileFrame F(string fn, int line) => new(fn, "main", "app.pl", file, line, true);
            store.Add([F("main::fib", 1), F("main::fib", 1), F("main::work", 4), F("main", 9)], 7, 1_000, 3);
            store.Add([F("main::work", 4), F("main", 9)], 7, 2_000, 1);
            var p = store.Snapshot();
            var lines = LineStats.Of(p).ToDictionary(l => l.Line);
            Assert.That(lines[1].Self, Is.EqualTo(3));
            Assert.That(lines[1].Total, Is.EqualTo(3), "recursion counts a sample once");
            Assert.That(lines[4].Self, Is.EqualTo(1));
            Assert.That(lines[4].Total, Is.EqualTo(4));
            Assert.That(lines[9].Self, Is.Zero);

            var html = LinesExporter.Export(p, "app.pl");
            Assert.That(html, Does.Contain("id=\"L0-1\"").And.Contain("id=\"L0-4\""));
            Assert.That(html, Does.Contain("sub work { fib(20) }"), "the code of the line");
            Assert.That(html, Does.Contain("75.0%"));
            Assert.That(html, Does.Not.Contain("http://").And.Not.Contain("src="), "no network");
            Assert.That(LinesExporter.Top(p, 5), Does.Contain("app.pl:1").And.Contain("fib($n - 1)"));

            var graph = FlameGraphExporter.Export(p, "app.pl");
            Assert.That(graph, Does.Contain("\"lines\":\"lines.html\""));
            Assert.That(graph, Does.Contain("\"n\":\"main::work\",\"v\":4,\"s\":1,\"l\":\"app.pl\",\"fi\":0,\"ln\":[[4,4]]"), "a frame knows its file and lines");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
