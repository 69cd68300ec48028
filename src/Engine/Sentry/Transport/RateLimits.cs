using System.Globalization;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// Rate limits learned from responses (spec §5): <c>X-Sentry-Rate-Limits</c> on every response,
/// else <c>Retry-After</c> on a 429, else 60 s for everything. The longest expiry per category wins;
/// none is longer than <see cref="MaxBackoff"/> (an hour).
/// </summary>
public sealed class RateLimits
{
    private const string All = "";
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _untilNs = [];

    public static readonly TimeSpan DefaultBackoff = TimeSpan.FromSeconds(60);

    /// <summary>The longest wait honoured (a larger Retry-After or limit waits this long, then asks again).</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(1);

    public void Update(int status, string? rateLimitsHeader, string? retryAfterHeader, long nowNs)
    {
        if (!string.IsNullOrWhiteSpace(rateLimitsHeader))
        {
            foreach (var entry in rateLimitsHeader.Split(','))
            {
                var fields = entry.Trim().Split(':');
                if (fields.Length < 2 || !double.TryParse(fields[0].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds < 0)
                    continue;
                var categories = fields[1].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (categories.Length == 0)
                {
                    Extend(All, nowNs, seconds);
                    continue;
                }
                foreach (var c in categories.Where(DataCategory.Known.Contains))
                    Extend(c, nowNs, seconds);
            }
        }
        else if (status == 429)
        {
            Extend(All, nowNs, ParseRetryAfter(retryAfterHeader, nowNs) ?? DefaultBackoff.TotalSeconds);
        }
    }

    /// <summary>Retry-After as seconds, or an HTTP date.</summary>
    private static double? ParseRetryAfter(string? header, long nowNs)
    {
        if (string.IsNullOrWhiteSpace(header))
            return null;
        if (double.TryParse(header.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0)
            return s;
        if (DateTimeOffset.TryParse(header.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            return Math.Max(0, (at.ToUnixTimeMilliseconds() * 1_000_000 - nowNs) / 1e9);
        return null;
    }

    private void Extend(string category, long nowNs, double seconds)
    {
        var until = nowNs + (long)(Math.Min(seconds, MaxBackoff.TotalSeconds) * 1e9);
        lock (_gate)
        {
            if (_untilNs.GetValueOrDefault(category) < until)
                _untilNs[category] = until;
        }
    }

    public bool IsLimited(string category, long nowNs)
    {
        if (category == DataCategory.Internal)
            return false;   // client reports are never limited
        lock (_gate)
            return _untilNs.GetValueOrDefault(All) > nowNs || _untilNs.GetValueOrDefault(category) > nowNs;
    }

    /// <summary>Whether this item may go now. A limited transaction takes its profile with it (Relay does the same).</summary>
    public bool IsItemLimited(string itemType, bool envelopeHasLimitedTransaction, long nowNs) =>
        DataCategory.LimitedBy(itemType).Any(c => IsLimited(c, nowNs))
        || (itemType == "profile" && envelopeHasLimitedTransaction);
}
