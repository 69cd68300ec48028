using System.Diagnostics;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Agent;

/// <summary>
/// A client session's clock: inside a call, the moment the client made it (calls are batched, so
/// the agent handles them later than they happened); otherwise now. Both on the client's time line:
/// CLOCK_MONOTONIC, which the client and the agent share, anchored once to the wall clock.
/// </summary>
public sealed class CallClock : IClock
{
    private static readonly long MonoToUnix = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100 - MonotonicNs();

    /// <summary>The client's monotonic time of the call being handled, or null between calls.</summary>
    public long? CallMonotonicNs { get; set; }

    public long UnixNs => (CallMonotonicNs ?? MonotonicNs()) + MonoToUnix;

    /// <summary>Unix ns of a client's monotonic time.</summary>
    public static long ToUnix(long monotonicNs) => monotonicNs + MonoToUnix;

    /// <summary>CLOCK_MONOTONIC in ns (Stopwatch reads it on Linux).</summary>
    public static long MonotonicNs() =>
        Stopwatch.Frequency == 1_000_000_000 ? Stopwatch.GetTimestamp() : (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
}
