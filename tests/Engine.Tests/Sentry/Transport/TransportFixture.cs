using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Tests.Sentry.Transport;

/// <summary>Envelopes, clocks and transports for the transport tests.</summary>
internal static class TransportFixture
{
    public sealed class ManualClock : IClock
    {
        public long UnixNs { get; set; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
    }

    public static Envelope Event(string message = "boom")
    {
        var id = SentryIds.NewEventId();
        var evt = new JObject
        {
            ["event_id"] = id, ["platform"] = "perl", ["message"] = message, ["level"] = "error",
            ["sdk"] = new JObject { ["name"] = "sentry.perl", ["version"] = "0.1.0" },
        };
        return Envelope.FromItems(id, SdkInfo.Default, [new EnvelopeItem("event", evt.ToString(Newtonsoft.Json.Formatting.None))]);
    }

    /// <summary>A transaction with a (minimal, valid) v1 profile in the same envelope.</summary>
    public static Envelope TransactionWithProfile()
    {
        var id = SentryIds.NewEventId();
        var trace = SentryIds.NewTraceId();
        var tx = new JObject
        {
            ["type"] = "transaction", ["event_id"] = id, ["platform"] = "perl", ["transaction"] = "job",
            ["start_timestamp"] = 1.0, ["timestamp"] = 2.0,
            ["sdk"] = new JObject { ["name"] = "sentry.perl", ["version"] = "0.1.0" },
            ["contexts"] = new JObject { ["trace"] = new JObject { ["trace_id"] = trace, ["span_id"] = SentryIds.NewSpanId() } },
        };
        var profile = new JObject
        {
            ["version"] = "1", ["event_id"] = SentryIds.NewEventId(), ["platform"] = "perl", ["timestamp"] = "2026-01-01T00:00:00.000000Z",
            ["device"] = new JObject { ["architecture"] = "x86_64" }, ["os"] = new JObject { ["name"] = "Linux", ["version"] = "6" },
            ["transaction"] = new JObject { ["id"] = id, ["name"] = "job", ["trace_id"] = trace, ["active_thread_id"] = "1" },
            ["profile"] = new JObject
            {
                ["frames"] = new JArray(new JObject { ["function"] = "main", ["filename"] = "a.pl", ["lineno"] = 1, ["in_app"] = true }),
                ["stacks"] = new JArray { new JArray(0) },
                ["samples"] = new JArray(
                    new JObject { ["stack_id"] = 0, ["thread_id"] = "1", ["elapsed_since_start_ns"] = "0" },
                    new JObject { ["stack_id"] = 0, ["thread_id"] = "1", ["elapsed_since_start_ns"] = "10000000" }),
            },
        };
        return Envelope.FromItems(id, SdkInfo.Default,
            [new EnvelopeItem("transaction", tx.ToString(Newtonsoft.Json.Formatting.None)), new EnvelopeItem("profile", profile.ToString(Newtonsoft.Json.Formatting.None))]);
    }

    public static HttpSink Sink(FakeSentryServer server, double timeoutSeconds = 1, int retries = 2) =>
        new(Dsn.Parse(server.Dsn()).EnvelopeUri, HttpSink.AuthHeader(Dsn.Parse(server.Dsn()), SdkInfo.Default), SdkInfo.Default,
            new HttpSink.Settings(TimeSpan.FromSeconds(timeoutSeconds), retries, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(1)));

    public static string TempDir()
    {
        var d = Path.Combine(Path.GetTempPath(), "perlsentry-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(d);
        return d;
    }

    public static long Count(this ClientReports r, string reason, string category) => r.Totals.GetValueOrDefault((reason, category));
}
