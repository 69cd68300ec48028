using System.Diagnostics;
using System.Text;
using NUnit.Framework;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using static PerlSentry.Engine.Tests.Sentry.Transport.TransportFixture;
using Conformance = PerlSentry.Engine.Tests.Sentry.EnvelopeConformance;

namespace PerlSentry.Engine.Tests.Sentry.Transport;

/// <summary>The transport against a real HTTP server on 127.0.0.1, under each fault (spec §5).</summary>
[TestFixture]
public sealed class BackgroundTransportTests
{
    private FakeSentryServer _server = null!;
    private string _cache = null!;
    private ManualClock _clock = null!;

    [SetUp]
    public void SetUp()
    {
        _server = new FakeSentryServer();
        _cache = TempDir();
        _clock = new ManualClock();
    }

    [TearDown]
    public void TearDown()
    {
        _server.Dispose();
        Directory.Delete(_cache, recursive: true);
    }

    private BackgroundTransport Transport(bool disk = true, int capacity = 100, double timeout = 1, ClientReports? reports = null) =>
        new(Sink(_server, timeout), disk ? new EnvelopeJournal(_cache, capacity) : new MemoryEnvelopeQueue(capacity), _clock, reports: reports, log: m => TestContext.Progress.WriteLine("transport: " + m));

    private static void AssertConforms(IEnumerable<byte[]> bodies)
    {
        foreach (var b in bodies)
            Assert.That(Conformance.Check(b), Is.Empty, Encoding.UTF8.GetString(b));
    }

    [Test]
    public async Task Send_Ok_PostsEnvelopeWithAuthToTheEnvelopeEndpoint_GzippedFrom4KiB()
    {
        using var t = Transport();
        await t.SendEnvelopeAsync(Event());
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(5)), Is.True);
        await t.SendEnvelopeAsync(Event(new string('x', HttpSink.GzipFrom)));
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(5)), Is.True);
        var r = _server.Requests[0];
        var large = _server.Requests[1];
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests, Has.Count.EqualTo(2));
            Assert.That(r.Method, Is.EqualTo("POST"));
            Assert.That(r.Path, Is.EqualTo("/api/42/envelope/"));
            Assert.That(r.Headers["X-Sentry-Auth"], Does.Contain("sentry_version=7").And.Contain("sentry_key=publickey").And.Contain("sentry_client=sentry.perl/"));
            Assert.That(r.Headers.ContainsKey("Content-Encoding"), Is.False, "a small envelope goes as it is");
            Assert.That(large.Headers["Content-Encoding"], Is.EqualTo("gzip"));
            Assert.That(large.Body, Has.Length.GreaterThan(HttpSink.GzipFrom), "the server saw it unpacked");
            Assert.That(r.Headers["Content-Type"], Is.EqualTo("application/x-sentry-envelope"));
            Assert.That(t.Stats.Sent, Is.EqualTo(2));
            Assert.That(t.Pending, Is.Zero, "delivered envelopes leave the cache");
        });
        AssertConforms(_server.Accepted);
    }

    [Test]
    public async Task RateLimitHeader_TransactionLimited_DropsTheTransactionAndItsProfile()
    {
        _server.Answer = n => n == 0 ? FakeSentryServer.Reply.WithStatus(429, ("X-Sentry-Rate-Limits", "60:transaction:organization:quota")) : FakeSentryServer.Reply.Ok;
        using var t = Transport();
        await t.SendEnvelopeAsync(TransactionWithProfile());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        await t.SendEnvelopeAsync(TransactionWithProfile());   // limited: dropped before it is queued
        _clock.UnixNs += 31_000_000_000;                       // reports ride along at most every 30 s
        await t.SendEnvelopeAsync(Event());                    // errors still go, with the client report
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(5)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests, Has.Count.EqualTo(2));
            Assert.That(t.Reports.Count(DiscardReason.RateLimitBackoff, DataCategory.Transaction), Is.EqualTo(1));
            Assert.That(t.Reports.Count(DiscardReason.RateLimitBackoff, DataCategory.Profile), Is.EqualTo(1));
            Assert.That(t.Stats.Rejected, Is.EqualTo(1), "the 429 itself is not a client report");
            var types = Conformance.Items(_server.Requests[1].Body).Select(i => i.Type).ToList();
            Assert.That(types, Is.EquivalentTo(new[] { "event", "client_report" }));
        });
        AssertConforms(_server.Accepted);
    }

    [TestCase("60:profile_chunk:organization", "profile_chunk")]
    [TestCase("60:profile_duration:organization", "profile_chunk")]
    [TestCase("60::organization", "event")]
    [TestCase("60:error;transaction:key:reason:ns, 2700:profile:organization", "event")]
    [TestCase("60:error;transaction:key:reason:ns, 2700:profile:organization", "profile")]
    public async Task RateLimitHeaderOn200_LimitsThoseCategoriesOnly(string header, string limitedItem)
    {
        _server.Answer = n => n == 0 ? FakeSentryServer.Reply.WithStatus(200, ("X-Sentry-Rate-Limits", header)) : FakeSentryServer.Reply.Ok;
        using var t = Transport();
        await t.SendEnvelopeAsync(Event());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        Assert.That(t.Limits.IsItemLimited(limitedItem, false, _clock.UnixNs), Is.True);
        Assert.That(t.Limits.IsItemLimited("client_report", false, _clock.UnixNs), Is.False, "client reports are never limited");
        Assert.That(t.Limits.IsItemLimited("profile_chunk", false, _clock.UnixNs), Is.EqualTo(limitedItem == "profile_chunk" || header.StartsWith("60::")));
        _clock.UnixNs += 61_000_000_000;
        Assert.That(t.Limits.IsItemLimited(limitedItem, false, _clock.UnixNs), Is.EqualTo(limitedItem == "profile"), "only the 2700 s limit is left");
    }

    [TestCase("Retry-After", "30", 30)]
    [TestCase(null, null, 60)]
    public async Task Status429WithoutLimitHeader_BacksOffEverything(string? name, string? value, int seconds)
    {
        _server.Answer = _ => name is null ? FakeSentryServer.Reply.WithStatus(429) : FakeSentryServer.Reply.WithStatus(429, (name, value!));
        using var t = Transport();
        await t.SendEnvelopeAsync(Event());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        await t.SendEnvelopeAsync(Event());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests.Count(r => Conformance.Items(r.Body).Any(i => i.Type == "event")), Is.EqualTo(1));
            Assert.That(t.Reports.Count(DiscardReason.RateLimitBackoff, DataCategory.Error), Is.EqualTo(1));
            Assert.That(t.Limits.IsLimited(DataCategory.Transaction, _clock.UnixNs + (seconds - 1) * 1_000_000_000L), Is.True);
            Assert.That(t.Limits.IsLimited(DataCategory.Transaction, _clock.UnixNs + (seconds + 1) * 1_000_000_000L), Is.False);
        });
    }

    [Test]
    public async Task ServerError_KeepsTheEnvelopeInTheCache_TheNextRunSendsIt()
    {
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(500);
        var first = Transport();
        await first.SendEnvelopeAsync(Event("kept"));
        await first.FlushAsync(TimeSpan.FromSeconds(5));
        await first.CloseAsync(TimeSpan.FromSeconds(1));
        first.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(first.Stats.Parked, Is.EqualTo(1));
            Assert.That(first.Stats.Sent, Is.Zero);
            Assert.That(CachedCount(), Is.EqualTo(1));
            Assert.That(first.Reports.Totals, Is.Empty, "nothing was dropped");
        });

        _server.Answer = _ => FakeSentryServer.Reply.Ok;
        using var second = Transport();
        Assert.That(await second.FlushAsync(TimeSpan.FromSeconds(5)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(second.Stats.Sent, Is.EqualTo(1));
            Assert.That(Encoding.UTF8.GetString(_server.Accepted.Single()), Does.Contain("\"kept\""));
            Assert.That(second.Pending, Is.Zero);
        });
        AssertConforms(_server.Accepted);
    }

    [Test]
    public async Task DroppedConnection_IsRetriedWithBackoff_AndDelivered()
    {
        _server.Answer = n => n == 0 ? FakeSentryServer.Reply.Drop : FakeSentryServer.Reply.Ok;
        using var t = Transport();
        await t.SendEnvelopeAsync(Event());
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(5)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(_server.Requests, Has.Count.EqualTo(2));
            Assert.That(t.Stats.Sent, Is.EqualTo(1));
            Assert.That(t.Stats.Parked, Is.Zero);
        });
    }

    [Test]
    public async Task HangingServer_CloseReturnsWithinItsTimeout_AndTheEnvelopeSurvives()
    {
        _server.Answer = _ => FakeSentryServer.Reply.Hang;
        var t = Transport(timeout: 30);
        await t.SendEnvelopeAsync(Event("hang"));
        var sw = Stopwatch.StartNew();
        await t.CloseAsync(TimeSpan.FromSeconds(1));
        sw.Stop();
        t.Dispose();
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)));
        _server.Answer = _ => FakeSentryServer.Reply.Ok;
        using var next = Transport();   // the claim of this (now idle) queue is taken back
        Assert.That(await next.FlushAsync(TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(_server.Accepted.Select(Encoding.UTF8.GetString), Has.Some.Contain("\"hang\""));
    }

    [Test]
    public async Task HangingServer_PerRequestTimeout_ParksTheEnvelope()
    {
        _server.Answer = _ => FakeSentryServer.Reply.Hang;
        using var t = Transport(timeout: 0.3);
        await t.SendEnvelopeAsync(Event());
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(10)), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(t.Stats.Parked, Is.EqualTo(1));
            Assert.That(_server.Requests, Has.Count.EqualTo(3), "one try and two retries");
            Assert.That(t.Pending, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task WithoutCache_ServerError_IsDroppedAsNetworkError()
    {
        _server.Answer = _ => FakeSentryServer.Reply.WithStatus(503);
        using var t = Transport(disk: false);
        await t.SendEnvelopeAsync(TransactionWithProfile());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        Assert.Multiple(() =>
        {
            Assert.That(t.Reports.Count(DiscardReason.NetworkError, DataCategory.Transaction), Is.EqualTo(1));
            Assert.That(t.Reports.Count(DiscardReason.NetworkError, DataCategory.Profile), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task ClientError_IsDroppedAsSendError()
    {
        _server.Answer = n => n == 0 ? FakeSentryServer.Reply.WithStatus(413) : FakeSentryServer.Reply.Ok;
        using var t = Transport();
        await t.SendEnvelopeAsync(Event());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        Assert.That(t.Reports.Count(DiscardReason.SendError, DataCategory.Error), Is.EqualTo(1));
        Assert.That(t.Pending, Is.Zero);
        Assert.That(await t.FlushAsync(TimeSpan.FromSeconds(5)), Is.True);
        Assert.That(_server.Requests.Last().Body is var b && Conformance.Items(b).Any(i => i.Type == "client_report"), Is.True,
            "the report goes out on its own at flush");
        AssertConforms(_server.Accepted);
    }

    [Test]
    public async Task FullMemoryQueue_DropsNewEnvelopesAsQueueOverflow()
    {
        _server.Answer = _ => FakeSentryServer.Reply.Hang;
        using var t = Transport(disk: false, capacity: 1, timeout: 30);
        for (var i = 0; i < 10; i++)
            await t.SendEnvelopeAsync(Event());
        // up to four in flight (hanging), one waiting: the rest overflow
        Assert.That(t.Reports.Count(DiscardReason.QueueOverflow, DataCategory.Error), Is.InRange(5, 9));
    }

    [Test]
    public void FullDiskCache_DropsTheOldest()
    {
        using var q = new EnvelopeJournal(_cache, 2);
        q.Add(SerializedEnvelope.From(Event("one")));
        q.Add(SerializedEnvelope.From(Event("two")));
        var dropped = q.Add(SerializedEnvelope.From(Event("three")));
        Assert.That(dropped.Single(), Is.EqualTo(new[] { "event" }));
        Assert.That(q.Count, Is.EqualTo(2));
        var left = new[] { q.TryClaim(long.MaxValue), q.TryClaim(long.MaxValue) }.Select(e => Encoding.UTF8.GetString(e!.Envelope.Bytes));
        Assert.That(left, Has.Some.Contains("\"two\"").And.Some.Contains("\"three\"").And.None.Contains("\"one\""));
    }

    [Test]
    public void DiskCache_ABacklogPastWhatItKeepsInMemory_IsReadBackFromDisk_ByteForByte()
    {
        using var q = new EnvelopeJournal(_cache, 100);
        var added = Enumerable.Range(0, 12).Select(i => SerializedEnvelope.From(Event($"{i}:" + new string('x', 1 << 20)))).ToList();
        foreach (var e in added)
            q.Add(e);   // 12 MB: the first 8 MB are kept in memory, the rest only on disk
        var claimed = Enumerable.Range(0, 12).Select(_ => q.TryClaim(long.MaxValue)!).ToList();
        Assert.That(claimed.Select(c => c.Envelope.Bytes), Is.EqualTo(added.Select(e => e.Bytes)), "in order, as added");
        Assert.That(claimed.Take(7).Select(c => c.Envelope), Is.EqualTo(added.Take(7)), "kept in memory: the same objects");
        Assert.That(claimed.Skip(8).Select(c => c.Envelope).Intersect(added), Is.Empty, "read back and parsed");
        foreach (var c in claimed)
            q.Complete(c);
        q.Add(added[0]);
        Assert.That(q.TryClaim(long.MaxValue)!.Envelope, Is.SameAs(added[0]), "completing gave the memory back");
    }

    [Test]
    public void DiskCache_CountsWaitingAndDue_ThroughClaimParkAndComplete()
    {
        using var q = new EnvelopeJournal(_cache, 10);
        foreach (var name in new[] { "a", "b", "c" })
            q.Add(SerializedEnvelope.From(Event(name)));
        var first = q.TryClaim(100)!;
        var second = q.TryClaim(100)!;
        Assert.That((q.Count, q.DueCount(100)), Is.EqualTo((1, 1)));
        q.Release(first, notBeforeNs: 500);
        Assert.That((q.Count, q.DueCount(100), q.DueCount(500)), Is.EqualTo((2, 1, 2)));
        q.Complete(second);
        var third = q.TryClaim(100)!;   // the parked one is skipped
        Assert.That(Encoding.UTF8.GetString(third.Envelope.Bytes), Does.Contain("\"c\""));
        Assert.That((q.TryClaim(100), q.Count), Is.EqualTo(((QueuedEnvelope?)null, 1)));
        var again = q.TryClaim(600)!;
        Assert.That(Encoding.UTF8.GetString(again.Envelope.Bytes), Does.Contain("\"a\""));
        q.Complete(again);
        q.Complete(third);
        Assert.That((q.Count, q.DueCount(long.MaxValue)), Is.EqualTo((0, 0)));
    }

    /// <summary>What is waiting in the cache folder (read as the next process would: adopting it).</summary>
    private int CachedCount()
    {
        using var q = new EnvelopeJournal(_cache, 100);
        return q.Count;
    }

    [Test]
    public void JournalChecksum_IsCrc32C_AndRecordsOfTheOlderChecksumAreStillRead()
    {
        Assert.That(EnvelopeJournal.Checksum("123456789"u8), Is.EqualTo(0xE3069283u), "CRC-32C's check value");
        Assert.That(EnvelopeJournal.Checksum("a longer input than eight bytes, not a multiple of eight"u8),
            Is.Not.EqualTo(EnvelopeJournal.Checksum("a longer input than eight bytes, not a multiple of eight!"u8)));
        // a record as 0.1.0 wrote it: magic, length, FNV-1a of the payload, payload
        using (var q = new EnvelopeJournal(_cache, 10))
            q.Add(SerializedEnvelope.From(Event()));
        var segment = Directory.GetFiles(_cache).Single(f => !f.EndsWith(".done", StringComparison.Ordinal));
        var bytes = File.ReadAllBytes(segment);
        var n = BitConverter.ToInt32(bytes, 4);
        var fnv = 2166136261u;
        foreach (var b in bytes.AsSpan(12, n))
            fnv = (fnv ^ b) * 16777619u;
        BitConverter.TryWriteBytes(bytes.AsSpan(8), fnv);
        File.WriteAllBytes(segment, bytes);
        Assert.That(CachedCount(), Is.EqualTo(1), "an older cache is sent after an upgrade, not dropped");
        bytes[20] ^= 0xff;
        File.WriteAllBytes(segment, bytes);
        Assert.That(CachedCount(), Is.Zero, "a record that matches neither checksum is skipped");
    }

    [Test]
    public void RepeatedFailures_OpenTheCircuit_SoNoRequestIsMade()
    {
        _server.Answer = _ => FakeSentryServer.Reply.Drop;
        using var sink = Sink(_server, retries: 0);
        for (var i = 0; i < 3; i++)
            Assert.That(sink.Send(Event().Serialize(DateTimeOffset.UtcNow)).IsTransient, Is.True);
        Assert.That(sink.IsBroken, Is.True);
        var before = _server.Requests.Count;
        var r = sink.Send(Event().Serialize(DateTimeOffset.UtcNow));
        Assert.That(r.Error, Does.Contain("circuit"));
        Assert.That(_server.Requests, Has.Count.EqualTo(before));
    }

    [Test]
    public async Task FolderSink_WritesOneFilePerEnvelope()
    {
        var dir = Path.Combine(_cache, "out");
        using var t = new BackgroundTransport(new FolderSink(dir), new MemoryEnvelopeQueue(10), _clock);
        await t.SendEnvelopeAsync(Event());
        await t.SendEnvelopeAsync(TransactionWithProfile());
        await t.FlushAsync(TimeSpan.FromSeconds(5));
        var files = Directory.GetFiles(dir, "*.envelope");
        Assert.That(files, Has.Length.EqualTo(2));
        AssertConforms(files.Select(File.ReadAllBytes));
    }

    /// <summary>A sink whose sends wait for the test to let them go.</summary>
    private sealed class GatedSink : IEnvelopeSink
    {
        public readonly SemaphoreSlim Started = new(0);
        public readonly ManualResetEventSlim Go = new(false);
        public int Sent;

        public string Name => "gated";

        public SinkResult Send(byte[] envelope)
        {
            Started.Release();
            Go.Wait();
            Interlocked.Increment(ref Sent);
            return SinkResult.Delivered;
        }

        public void Dispose() { }
    }

    [Test]
    public async Task HoldAll_WaitsForTheSendInProgressToBeRecorded_AndStartsNoOther()
    {
        var sink = new GatedSink();
        using var t = new BackgroundTransport(sink, new EnvelopeJournal(_cache, 10), _clock, sendClientReports: false);
        await t.SendEnvelopeAsync(Event("first"));
        await t.SendEnvelopeAsync(Event("second"));
        Assert.That(sink.Started.Wait(TimeSpan.FromSeconds(5)), Is.True, "the first send started");
        var hold = Task.Run(() => BackgroundTransport.HoldAll(TimeSpan.FromSeconds(5)));
        Thread.Sleep(100);
        Assert.That(hold.IsCompleted, Is.False, "it waits for the send in progress");
        sink.Go.Set();
        Assert.That(hold.Wait(TimeSpan.FromSeconds(5)), Is.True);
        Thread.Sleep(300);
        Assert.Multiple(() =>
        {
            Assert.That(sink.Sent, Is.EqualTo(1), "no send starts while held");
            Assert.That(t.Pending, Is.EqualTo(1), "the second waits in the journal, the first is recorded as sent");
        });
    }

    [Test]
    public void ProxyFromTheEnvironment_CarriesTheRequest_AndALocalEndpointItBypassesGoesDirect()
    {
        var proxy = new System.Net.WebProxy($"http://127.0.0.1:{_server.Port}") { BypassProxyOnLocal = true };
        var far = new Uri("http://sentry.example.invalid:9/api/42/envelope/");
        using (var through = new HttpSink(far, "Sentry sentry_key=k", SdkInfo.Default, new HttpSink.Settings(TimeSpan.FromSeconds(5)), proxy: proxy))
        {
            Assert.That(through.ThroughProxy, Is.True);
            var r = through.Send(Event("proxied").Serialize(DateTimeOffset.UtcNow));
            Assert.That(r.IsSuccess, Is.True, r.Error);
        }
        var seen = _server.Requests.Single();
        Assert.Multiple(() =>
        {
            Assert.That(seen.Path, Is.EqualTo(far.ToString()), "the proxy is asked for the endpoint's absolute URL");
            Assert.That(seen.Headers["X-Sentry-Auth"], Is.EqualTo("Sentry sentry_key=k"));
            Assert.That(Encoding.UTF8.GetString(seen.Body), Does.Contain("\"proxied\""));
        });
        using var direct = new HttpSink(new Uri(Dsn.Parse(_server.Dsn()).EnvelopeUri.ToString().Replace("127.0.0.1", "localhost")), null, SdkInfo.Default,
            new HttpSink.Settings(TimeSpan.FromSeconds(5)), proxy: proxy);
        Assert.That(direct.ThroughProxy, Is.False, "a local endpoint the proxy settings bypass");
    }
}
