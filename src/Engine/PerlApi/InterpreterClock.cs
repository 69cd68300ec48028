using PerlSentry.Engine.Sentry;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.PerlApi;

/// <summary>
/// The clock the sampler stamps samples with (the shim's monotonic clock, anchored to the wall
/// clock once), so transactions and their profiles share one time line.
/// </summary>
internal sealed class InterpreterClock : IClock
{
    public static InterpreterClock Instance { get; } = new();

    private readonly long _monoToUnix;

    private InterpreterClock()
    {
        var (mono, unix) = PerlInterpreter.Clock();
        _monoToUnix = unix - mono;
    }

    public long UnixNs => PerlInterpreter.Clock().MonotonicNs + _monoToUnix;
}
