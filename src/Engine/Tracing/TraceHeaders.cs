using System.Text;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tracing;

/// <summary>
/// Trace propagation: the <c>sentry-trace</c> header (<c>trace_id-span_id[-0|1]</c>) and the
/// <c>sentry-</c> entries of W3C <c>baggage</c>, which carry the head of the trace's dynamic
/// sampling context (spec §1 envelope header <c>trace</c>).
/// </summary>
public static class TraceHeaders
{
    public sealed record TraceParent(string TraceId, string ParentSpanId, bool? Sampled);

    public static string FormatTraceParent(string traceId, string spanId, bool? sampled) =>
        sampled is null ? $"{traceId}-{spanId}" : $"{traceId}-{spanId}-{(sampled.Value ? 1 : 0)}";

    /// <summary>Null when the header is missing or malformed (a new trace starts then).</summary>
    public static TraceParent? ParseTraceParent(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
            return null;
        var parts = header.Trim().Split('-');
        if (parts.Length is < 2 or > 3 || !SentryIds.IsHex(parts[0].ToLowerInvariant(), 32) || !SentryIds.IsHex(parts[1].ToLowerInvariant(), 16))
            return null;
        bool? sampled = parts.Length == 3 ? parts[2] switch { "1" => true, "0" => false, _ => null } : null;
        return new TraceParent(parts[0].ToLowerInvariant(), parts[1].ToLowerInvariant(), sampled);
    }

    /// <summary>The <c>sentry-</c> entries of a baggage header as a DSC object (keys without the prefix), or null when there are none.</summary>
    public static JObject? ParseBaggage(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
            return null;
        var dsc = new JObject();
        foreach (var entry in header.Split(','))
        {
            var kv = entry.Split(';', 2)[0].Split('=', 2);
            if (kv.Length != 2)
                continue;
            var key = kv[0].Trim();
            if (!key.StartsWith("sentry-", StringComparison.Ordinal))
                continue;
            dsc[key["sentry-".Length..]] = Uri.UnescapeDataString(kv[1].Trim());
        }
        return dsc.HasValues ? dsc : null;
    }

    public static string FormatBaggage(JObject dsc)
    {
        var sb = new StringBuilder();
        foreach (var p in dsc.Properties())
        {
            if (p.Value.Type is JTokenType.Null)
                continue;
            if (sb.Length > 0) sb.Append(',');
            var value = p.Value.Type == JTokenType.Boolean ? ((bool)p.Value ? "true" : "false") : p.Value.ToString();
            sb.Append("sentry-").Append(p.Name).Append('=').Append(Uri.EscapeDataString(value));
        }
        return sb.ToString();
    }
}
