using System.Text;
using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// Keeps an event under Sentry's ingest limit (1 MiB for an event item): strings from the program are
/// cut at <see cref="MaxStringLength"/> where they are converted (<c>SessionValues</c>); an event that
/// is still too big loses, in this order, its oldest breadcrumbs, its largest <c>extra</c> values,
/// the middle of long stack traces, then the rest of its breadcrumbs and extra. What cannot be made to
/// fit is dropped (and counted) rather than refused by the server.
/// </summary>
public static class EventSize
{
    /// <summary>The most characters a string the program gave keeps (Relay's own limit for a message).</summary>
    public const int MaxStringLength = 8192;

    /// <summary>An event's payload at most (bytes): under Relay's 1 MiB, with room for the item header.</summary>
    public const int MaxEventBytes = 1_000_000;

    private const string Ellipsis = "...";

    /// <summary><paramref name="s"/>, cut to <see cref="MaxStringLength"/> characters (the cut marked with "...").</summary>
    public static string Cut(string s)
    {
        if (s.Length <= MaxStringLength)
            return s;
        var keep = MaxStringLength - Ellipsis.Length;
        if (char.IsHighSurrogate(s[keep - 1]))
            keep--;   // never half a character
        return string.Concat(s.AsSpan(0, keep), Ellipsis);
    }

    /// <summary>The payload as it is when it fits, else made to fit; null when it cannot be.</summary>
    public static string? Fit(string payload)
    {
        if (payload.Length <= MaxEventBytes / 4 || Encoding.UTF8.GetByteCount(payload) <= MaxEventBytes)
            return payload;
        var evt = JObject.Parse(payload);
        string Text() => evt.ToString(Newtonsoft.Json.Formatting.None);
        bool Fits(out string text)
        {
            text = Text();
            return Encoding.UTF8.GetByteCount(text) <= MaxEventBytes;
        }
        string fitted;
        var crumbs = evt["breadcrumbs"]?["values"] as JArray ?? evt["breadcrumbs"] as JArray;
        while (crumbs is { Count: > 0 })
        {
            crumbs.RemoveAt(0);   // the oldest first
            if (crumbs.Count % 10 == 0 && Fits(out fitted))
                return fitted;
        }
        if (Fits(out fitted))
            return fitted;
        if (evt["extra"] is JObject extra)
        {
            foreach (var p in extra.Properties().OrderByDescending(p => p.Value.ToString(Newtonsoft.Json.Formatting.None).Length).ToList())
            {
                p.Remove();
                if (Fits(out fitted))
                    return fitted;
            }
        }
        foreach (var frames in (evt["exception"]?["values"] as JArray ?? []).Select(v => v["stacktrace"]?["frames"]).OfType<JArray>())
        {
            // the outermost and innermost frames tell the most: the middle of a deep recursion goes
            while (frames.Count > 100)
                frames.RemoveAt(frames.Count / 2);
        }
        if (Fits(out fitted))
            return fitted;
        evt.Remove("breadcrumbs");
        evt.Remove("extra");
        return Fits(out fitted) ? fitted : null;
    }
}
