using System.Globalization;

namespace PerlSentry.Engine.Sentry;

/// <summary>Sentry's time encodings.</summary>
public static class Timestamps
{
    /// <summary>Epoch seconds with microseconds, as events and spans carry them.</summary>
    public static double ToEpochSeconds(long unixNs) => Math.Round(unixNs / 1e9, 6);

    public static long FromEpochSeconds(double seconds) => (long)(seconds * 1e9);

    /// <summary>RFC 3339 UTC with microseconds (profile timestamps, client reports).</summary>
    public static string ToRfc3339(long unixNs) =>
        DateTime.UnixEpoch.AddTicks(unixNs / 100).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
}
