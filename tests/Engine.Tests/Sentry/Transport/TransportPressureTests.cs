using System.Diagnostics;
using NUnit.Framework;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using static PerlSentry.Engine.Tests.Sentry.Transport.TransportFixture;
using Conformance = PerlSentry.Engine.Tests.Sentry.EnvelopeConformance;

namespace PerlSentry.Engine.Tests.Sentry.Transport;

/// <summary>
/// The transport as a hostile world treats it: bursts, redirects, servers that fail or ask for
/// endless backoff, full and read-only disks, other users' folders. A real HTTP server on
/// 127.0.0.1 each time; counts asserted.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TransportPressureTests
{
    private FakeSentryServer _server = null!;
    private string _dir = null!;
    private List<string> _warnings = null!;

    [SetUp]
    public void SetUp()
    {
        _server = new FakeSentryServer();
        _dir = TempDir();
        _warnings = [];
    }

    [TearDown]
    public void TearDown()
    {
        _server.Dispose();
        foreach (var m in _mounts)
            Run("umount", m);
        _mounts.Clear();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A transport to <see cref="_server"/>, made to answer 100 ms away, on a machine with <paramref name="idleCpu"/> (null: not known).</summary>
    private BackgroundTransport FarTransport(double? idleCpu, int senderIdleMs = 60_000)
    {
        _server.Delay = TimeSpan.FromMilliseconds(100);
        return new(Sink(_server, 2), Journal(), SystemClock.Instance, warn: _warnings.Add)
        {
            CpuIdleSinceLastLook = () => idleCpu,
            SenderIdleMs = senderIdleMs,
        };
    }

    /// <summary>A backlog: <paramref name="count"/> envelopes queued at once, then flushed (within 60 s).</summary>
    private static async Task SendAllAndFlush(BackgroundTransport t, int count)
    {
        for (var i = 0; i < count; i++)
            await t.SendEnvelopeAsync(Event($"m{i}"));
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(60)), Is.True);
    }

    private BackgroundTransport Transport(IEnvelopeQueue queue, IEnvelopeSink? sink = null, ClientReports? reports = null) =>
        new(sink ?? Sink(_server, 2), queue, SystemClock.Instance, reports: reports, warn: _warnings.Add,
            log: m => TestContext.Progress.WriteLine("transport: " + m));

    private EnvelopeJournal Journal(int capacity = 10_000) => new(Path.Combine(_dir, "cache"), capacity);

    [Test]
    public async Task Redirect307ToAnotherOrigin_TheOtherOriginReceivesNothing_TheEnvelopeIsKept()
    {
        using var other = new FakeSentryServer();
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(307, ("Location", $"http://127.0.0.1:{other.Port}/api/42/envelope/"));
        using var t = Transport(Journal());
        await t.SendEnvelopeAsync(Event("secret"));
        await t.FlushAsync(TimeSpan.FromSeconds(3));
        Assert.Multiple(() =>
        {
            Assert.That(other.Requests, Is.Empty, "no request at all reaches the other origin (nor the DSN's keys)");
            Assert.That(_server.Requests, Has.Count.EqualTo(1));
            Assert.That(t.Stats.Sent, Is.Zero, "a redirect is not a delivery");
            Assert.That(t.Pending, Is.EqualTo(1), "kept for a later try");
            Assert.That(_warnings, Has.One.Contains("307").And.Contains("redirects are not followed"));
        });
    }

    [Test]
    public async Task Redirect302_IsAFailedSend_KeptAndNotCountedAsDelivered()
    {
        _server.Answer = n => n == 0 ? FakeSentryServer.Reply.WithStatus(302, ("Location", "/elsewhere")) : FakeSentryServer.Reply.Ok;
        using var t = Transport(Journal());
        await t.SendEnvelopeAsync(Event());
        await t.FlushAsync(TimeSpan.FromSeconds(1));
        Assert.That((t.Stats.Sent, t.Stats.Parked, t.Pending), Is.EqualTo((0L, 1L, 1)));
        Assert.That(_server.Requests.Select(r => r.Method), Is.All.EqualTo("POST"), "never turned into a GET");
        var until = DateTime.UtcNow.AddSeconds(8);
        while (t.Stats.Sent == 0 && DateTime.UtcNow < until)
            await Task.Delay(50);
        Assert.That(t.Stats.Sent, Is.EqualTo(1), "sent after the backoff, once the server answers 200");
    }

    [Test]
    public async Task RedirectLoop_AFewRequests_NotHundreds()
    {
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(302, ("Location", "/api/42/envelope/"));
        using var t = Transport(Journal());
        for (var i = 0; i < 4; i++)
            await t.SendEnvelopeAsync(Event());
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.That(_server.Requests.Count, Is.InRange(1, 4), "the first failure pauses all sending");
        Assert.That(t.Pending, Is.EqualTo(4));
    }

    [Test]
    public async Task RetryAfterOfAnySize_IsHonoured_UpToAnHour()
    {
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(429, ("Retry-After", "99999999999"));
        using var t = Transport(Journal());
        await t.SendEnvelopeAsync(Event());
        await t.FlushAsync(TimeSpan.FromSeconds(3));
        await t.SendEnvelopeAsync(Event());   // limited: not sent
        await t.FlushAsync(TimeSpan.FromSeconds(1));
        var now = SystemClock.Instance.UnixNs;
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests.Count(r => Conformance.Items(r.Body).Any(i => i.Type == "event")), Is.EqualTo(1), "sending stopped");
            Assert.That(t.Reports.Count(DiscardReason.RateLimitBackoff, DataCategory.Error), Is.EqualTo(1));
            Assert.That(t.Limits.IsLimited(DataCategory.Error, now + (long)TimeSpan.FromMinutes(59).TotalNanoseconds), Is.True);
            Assert.That(t.Limits.IsLimited(DataCategory.Error, now + (long)TimeSpan.FromMinutes(61).TotalNanoseconds), Is.False, "capped at an hour");
        });
    }

    [Test]
    public async Task ServerAnswers500ToEverything_TheClientReportIsNotSentOverAndOver()
    {
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(500);
        using var t = Transport(Journal(capacity: 10));
        for (var i = 0; i < 50; i++)
            await t.SendEnvelopeAsync(Event());
        Assert.That(t.Reports.Count(DiscardReason.CacheOverflow, DataCategory.Error), Is.EqualTo(40));
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(TimeSpan.FromSeconds(3));
        var withReport = _server.Requests.Count(r => Conformance.Items(r.Body).Any(i => i.Type == "client_report"));
        Assert.That(_server.Requests.Count, Is.LessThanOrEqualTo(BackgroundTransport.Concurrency + 3), "the first sends at once, then backing off 2 s, 4 s, ...");
        Assert.That(withReport, Is.LessThanOrEqualTo(2), "the report rides with one request at a time, not with every retry");
    }

    [Test]
    public async Task Burst10000_HealthyReceiver_NoneDropped()
    {
        using var t = Transport(Journal());
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < 10_000; i++)
            await t.SendEnvelopeAsync(Event($"m{i}"));
        var queued = sw.Elapsed;
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(60)), Is.True);
        TestContext.Progress.WriteLine($"10,000 queued in {queued.TotalMilliseconds:0} ms, all sent in {sw.Elapsed.TotalMilliseconds:0} ms");
        Assert.Multiple(() =>
        {
            Assert.That(t.Reports.Totals, Is.Empty, "nothing dropped");
            Assert.That(_server.Accepted, Has.Count.EqualTo(10_000));
            Assert.That(t.Pending, Is.Zero);
        });
    }

    [Test]
    public async Task AFarServer_ManyRequestsAreInFlightAtOnce_NoneDropped()
    {
        // Each answer 100 ms away: one request at a time would take 40 s for these; 4 at once, 10 s.
        using var t = FarTransport(idleCpu: 0.9);
        var sw = Stopwatch.StartNew();
        await SendAllAndFlush(t, 400);
        TestContext.Progress.WriteLine($"400 envelopes to a server 100 ms away: {sw.Elapsed.TotalSeconds:0.0} s, at most {_server.MostAtOnce} at once");
        Assert.Multiple(() =>
        {
            Assert.That(_server.Accepted, Has.Count.EqualTo(400));
            Assert.That(t.Reports.Totals, Is.Empty, "nothing dropped");
            // Senders are added one at a time while each raises the rate (and the machine has idle CPU):
            // twice the old limit of 4 at least.
            Assert.That(_server.MostAtOnce, Is.GreaterThanOrEqualTo(8).And.LessThanOrEqualTo(BackgroundTransport.Concurrency),
                "requests in flight at once, each on a connection of its own");
        });
    }

    [Test]
    public async Task AFarServer_OnAMachineWithoutIdleCpu_GetsAFewRequestsAtOnce_NoMore_NoneDropped()
    {
        // The program keeps the cores busy: more senders would take CPU from it, but a send at a time would
        // fall behind even a modest rate of envelopes.
        using var t = FarTransport(idleCpu: 0.05);
        await SendAllAndFlush(t, 120);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Accepted, Has.Count.EqualTo(120));
            Assert.That(t.Reports.Totals, Is.Empty, "nothing dropped");
            Assert.That(_server.MostAtOnce, Is.InRange(2, 4), "grown past one sender, and not past the old limit");
        });
    }

    [Test]
    public async Task AfterAFarServersBacklog_TheExtraSendersEnd_OneStays()
    {
        using var t = FarTransport(idleCpu: null, senderIdleMs: 1000);
        await SendAllAndFlush(t, 200);
        Assert.That(t.SenderCount, Is.GreaterThan(1), "grown for the backlog");
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (t.SenderCount > 1 && DateTime.UtcNow < until)
            await Task.Delay(100);
        Assert.That(t.SenderCount, Is.EqualTo(1), "idle a second (here): the extra senders ended");
        await t.SendEnvelopeAsync(Event("later"));
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(10)), Is.True, "the one left still sends");
        Assert.That(_server.Accepted, Has.Count.EqualTo(201));
    }

    [Test]
    public async Task Burst2000_EnvelopeDirOnly_NoneDropped()
    {
        var folder = Path.Combine(_dir, "out");
        using var t = new BackgroundTransport(new FolderSink(folder), Journal(), SystemClock.Instance, concurrency: 1);
        for (var i = 0; i < 2_000; i++)
            await t.SendEnvelopeAsync(Event($"m{i}"));
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(60)), Is.True);
        Assert.That(t.Reports.Totals, Is.Empty);
        Assert.That(Directory.GetFiles(folder, "*.envelope"), Has.Length.EqualTo(2_000));
    }

    [Test]
    public async Task CacheOnAFullDisk_FallsBackToMemory_WarnsOnce_LosesNothing()
    {
        var small = Mount("size=16k");
        using var t = Transport(new EnvelopeJournal(Path.Combine(small, "cache"), 10_000));
        for (var i = 0; i < 200; i++)
            await t.SendEnvelopeAsync(Event($"m{i}"));
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(20)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Accepted, Has.Count.EqualTo(200), "those in the journal and those in memory");
            Assert.That(t.Reports.Totals, Is.Empty);
            Assert.That(_warnings, Has.One.Contains("cannot write the envelope cache").And.Contains("memory"));
        });
    }

    [Test]
    public async Task EnvelopeDirReadOnly_WarnsOnce_AndCounts()
    {
        var ro = Mount("size=16k,ro");
        using var t = new BackgroundTransport(new FolderSink(ro), new MemoryEnvelopeQueue(100), SystemClock.Instance, warn: _warnings.Add, concurrency: 1);
        for (var i = 0; i < 3; i++)
            await t.SendEnvelopeAsync(Event());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        Assert.That(_warnings, Has.One.Contains("cannot write to " + ro));
        Assert.That(t.Reports.Count(DiscardReason.SendError, DataCategory.Error), Is.EqualTo(3));
    }

    [Test]
    public async Task CacheAndEnvelopeFolders_AreTheirUsersAlone_WhateverTheUmask()
    {
        var folder = Path.Combine(_dir, "out");
        using (var t = new BackgroundTransport(new FolderSink(folder), Journal(), SystemClock.Instance))
        {
            _server.Answer = _ => FakeSentryServer.Reply.Hang;
            await t.SendEnvelopeAsync(Event());
            await t.FlushAsync(TimeSpan.FromSeconds(5));
            var cache = Path.Combine(_dir, "cache");
            Assert.That(File.GetUnixFileMode(cache), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
            Assert.That(Directory.GetFiles(cache).Select(File.GetUnixFileMode), Is.All.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
        Assert.That(File.GetUnixFileMode(folder), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        Assert.That(Directory.GetFiles(folder).Select(File.GetUnixFileMode), Is.All.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Test]
    public void AFolderAnotherUserOwns_IsRefused()
    {
        var theirs = Path.Combine(_dir, "theirs");
        Directory.CreateDirectory(theirs);
        if (Run("chown", "65534", theirs) != 0)
            Assert.Ignore("cannot give a folder to another user here (not root)");
        var e = Assert.Throws<UnauthorizedAccessException>(() => new EnvelopeJournal(theirs, 10));
        Assert.That(e!.Message, Does.Contain("belongs to another user"));
        var warned = new List<string>();
        using var transport = TransportFactory.Create(new SentryOptions { Dsn = Dsn.Parse(_server.Dsn()), CacheDir = theirs },
            SystemClock.Instance, new ClientReports(), null, warned.Add);
        Assert.That(warned, Has.One.Contains("belongs to another user").And.Contains("in memory only"));
    }

    [Test]
    public async Task ReceiverDownThenBack_WhatWasDroppedIsReportedOnce_AfterTheRestart()
    {
        _server.Answer = _ => FakeSentryServer.Reply.Drop;
        var first = Transport(Journal(capacity: 100));
        for (var i = 0; i < 1_000; i++)
            await first.SendEnvelopeAsync(Event($"m{i}"));
        await first.CloseAsync(TimeSpan.FromSeconds(1));
        first.Dispose();
        Assert.That(first.Reports.Count(DiscardReason.CacheOverflow, DataCategory.Error), Is.EqualTo(900));

        _server.Answer = _ => FakeSentryServer.Reply.Ok;
        using var second = Transport(Journal(capacity: 100));   // the next process on the same cache
        Assert.That(await second.FlushAsync(TimeSpan.FromSeconds(20)), Is.True);
        var items = _server.Accepted.SelectMany(Conformance.Items).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(items.Count(i => i.Type == "event"), Is.EqualTo(100), "the 100 the cache kept");
            var reports = items.Where(i => i.Type == "client_report").ToList();
            Assert.That(reports, Has.Count.EqualTo(1), "the report of the 900 dropped, once");
            Assert.That(reports[0].Payload, Does.Contain("\"reason\":\"cache_overflow\"").And.Contains("\"quantity\":900"));
        });
    }

    private readonly List<string> _mounts = [];

    /// <summary>A small tmpfs (a disk that fills, or a read-only one); the test is ignored where mounting is not allowed.</summary>
    private string Mount(string options)
    {
        var dir = Path.Combine(_dir, "mnt" + _mounts.Count);
        Directory.CreateDirectory(dir);
        if (Run("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir) != 0)
            Assert.Ignore("cannot mount a small tmpfs here (needs root)");
        _mounts.Add(dir);
        return dir;
    }

    private static int Run(string file, params string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
