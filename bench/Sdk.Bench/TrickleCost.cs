using System.Diagnostics;
using System.Globalization;
using System.Text;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Bench;

/// <summary>
/// What the transport costs an envelope that comes alone, as at a server's rate of transactions: a
/// thread hands one 2 KB envelope every 2 ms to a <see cref="BackgroundTransport"/> posting to the
/// stand-in on 127.0.0.1, and the process's CPU (all threads but the stand-in's) is compared with the
/// same loop handing nothing over. Rounds alternate the order; the row is the median of the rounds' differences.
/// </summary>
internal static class TrickleCost
{
    private const int Envelopes = 1500;
    private const int GapUs = 2000;

    public static void Run()
    {
        using var receiver = new Receiver();
        var dsn = Dsn.Parse(receiver.Dsn);
        var payload = SerializedEnvelope.Parse(Encoding.UTF8.GetBytes(
            "{\"event_id\":\"" + new string('a', 32) + "\"}\n{\"type\":\"transaction\",\"length\":1900}\n" + new string('x', 1900) + "\n"));
        using var transport = new BackgroundTransport(
            new HttpSink(dsn.EnvelopeUri, HttpSink.AuthHeader(dsn, SdkInfo.Default), SdkInfo.Default, new HttpSink.Settings(TimeSpan.FromSeconds(5))),
            new MemoryEnvelopeQueue(10_000), SystemClock.Instance, sendClientReports: false);
        Pace(300, () => transport.Send(payload));   // warm-up: JIT tiers, the connection
        transport.FlushAsync(TimeSpan.FromSeconds(5)).Wait();
        var diffs = new List<double>();
        for (var round = 0; round < 5; round++)
        {
            double idle = 0, sending = 0;
            foreach (var send in round % 2 == 0 ? [false, true] : new[] { true, false })
            {
                Thread.Sleep(300);   // what the flush and the last round left settles
                if (send)
                    sending = Measure(() => transport.Send(payload));
                else
                    idle = Measure(() => { });
                transport.FlushAsync(TimeSpan.FromSeconds(5)).Wait();
            }
            diffs.Add(sending - idle);
        }
        diffs.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| the transport's CPU per envelope when each comes alone (2 KB, one every 2 ms, to the stand-in on 127.0.0.1; the process's CPU but the stand-in's, above the same loop sending nothing; median of 5 rounds of {Envelopes}) | {diffs[2]:0.0} µs (rounds {diffs[0]:0.0}–{diffs[^1]:0.0}) |"));
    }

    private static double Measure(Action send)
    {
        var before = CpuNs();
        Pace(Envelopes, send);
        Thread.Sleep(50);   // the last envelope's send is counted
        return (CpuNs() - before) / 1000.0 / Envelopes;
    }

    private static void Pace(int count, Action send)
    {
        var thread = new Thread(() =>
        {
            var next = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                send();
                next += GapUs * Stopwatch.Frequency / 1_000_000;
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                    Thread.Sleep(wait);
            }
        }) { Name = "pacer" };
        thread.Start();
        thread.Join();
    }

    /// <summary>
    /// CPU time of this process but the stand-in's threads (from /proc, clock ticks). The process's own
    /// total, not a sum over its threads: a pool thread that ends during a round takes its time with it.
    /// </summary>
    private static long CpuNs()
    {
        var ticks = ProcStat.Ticks("/proc/self/stat");
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == "receiver")
                    ticks -= ProcStat.Ticks(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }
        return (long)(ticks * 1e9 / ProcStat.TicksPerSecond);
    }
}
