namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>Client-report reasons for what the SDK drops (spec §5, [D-cr]).</summary>
public static class DiscardReason
{
    public const string QueueOverflow = "queue_overflow";
    public const string CacheOverflow = "cache_overflow";
    public const string RateLimitBackoff = "ratelimit_backoff";
    public const string NetworkError = "network_error";
    public const string SampleRate = "sample_rate";
    public const string BeforeSend = "before_send";
    public const string EventProcessor = "event_processor";
    public const string SendError = "send_error";
    public const string InternalSdkError = "internal_sdk_error";
    public const string InsufficientData = "insufficient_data";
}
