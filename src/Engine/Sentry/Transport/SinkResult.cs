namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>What happened to one delivery: an HTTP status with its limit headers, or a network failure.</summary>
public sealed record SinkResult(int Status, string? RateLimits = null, string? RetryAfter = null, string? Error = null)
{
    public static readonly SinkResult Delivered = new(200);

    public static SinkResult Failed(string error) => new(0, Error: error);

    /// <summary>A local sink could not write (a read-only or full folder): not retried.</summary>
    public static SinkResult LocalFailure(string error) => new(-1, Error: error);

    public bool IsSuccess => Status is >= 200 and < 300;

    /// <summary>No answer (refused, reset, timed out, circuit open) or a 5xx: worth keeping for later.</summary>
    public bool IsTransient => Status == 0 || Status >= 500;

    /// <summary>A 3xx: never followed (the envelope and the DSN's keys go to the DSN's origin only), kept for later like a failure.</summary>
    public bool IsRedirect => Status is >= 300 and < 400;
}
