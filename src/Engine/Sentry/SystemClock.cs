using System.Diagnostics;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// The wall clock read once, advanced by a monotonic clock: spans of one transaction never go
/// backwards when the system clock is stepped (as sentry-python does for its profiles).
/// </summary>
public sealed class SystemClock : IClock
{
    public static SystemClock Instance { get; } = new();

    private readonly long _startUnixNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
    private readonly long _startTicks = Stopwatch.GetTimestamp();

    public long UnixNs => _startUnixNs + (long)Stopwatch.GetElapsedTime(_startTicks).TotalNanoseconds;
}
