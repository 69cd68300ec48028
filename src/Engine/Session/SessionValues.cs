using System.Collections;
using System.Globalization;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Session;

/// <summary>
/// Perl data, as the bridge or the agent's socket delivers it (scalars, lists, hashes, references that
/// stay in the interpreter), to JSON and back.
/// </summary>
public static class SessionValues
{
    public static JToken ToJson(object? v, int depth = 0)
    {
        if (depth > 64)
            return "[too deep]";
        return v switch
        {
            null => JValue.CreateNull(),
            string s => s,
            bool b => b,
            long l => l,
            int i => i,
            double d => double.IsFinite(d) ? d : d.ToString(CultureInfo.InvariantCulture),
            IDictionary<string, object?> dict => Object(dict, depth),
            IEnumerable<object?> list => new JArray(list.Select(x => ToJson(x, depth + 1))),
            // \1, \0 and JSON::PP::true/false: what Perl code writes for JSON booleans.
            IPerlRef { Kind: PerlRefKind.Scalar } r when r.ClassName is null or "JSON::PP::Boolean" or "Types::Serialiser::Boolean" =>
                Truthy(r.Deref()),
            IPerlRef r => r.ClassName is { } cls ? $"{cls} object" : $"{r.Kind} reference",
            _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
        };
    }

    private static JObject Object(IDictionary<string, object?> dict, int depth)
    {
        var o = new JObject();
        foreach (var (k, v) in dict)
            o[k] = ToJson(v, depth + 1);
        return o;
    }

    public static JObject ToJObject(object? v) => ToJson(v) as JObject ?? [];

    /// <summary>JSON as Perl data: hashes, arrays and scalars (booleans as 1 and "").</summary>
    public static object? ToPerl(JToken? t) => t switch
    {
        null => null,
        JObject o => o.Properties().ToDictionary(p => p.Name, p => ToPerl(p.Value), StringComparer.Ordinal),
        JArray a => a.Select(ToPerl).ToList(),
        JRaw r => ToPerl(RawJson.Parse(r)),   // JSON written ahead (spans, breadcrumbs, default contexts)
        JValue { Type: JTokenType.Null or JTokenType.Undefined } => null,
        JValue { Type: JTokenType.Boolean } b => (bool)b ? 1L : "",
        JValue { Type: JTokenType.Integer } i => (long)i,
        JValue { Type: JTokenType.Float } f => (double)f,
        JValue v => v.ToString(CultureInfo.InvariantCulture),
        _ => t.ToString(),
    };

    public static string? Text(object? v) => v switch
    {
        null => null,
        string s => s,
        _ => Convert.ToString(v, CultureInfo.InvariantCulture),
    };

    public static double? Number(object? v) => v switch
    {
        null => null,
        long l => l,
        int i => i,
        double d => d,
        bool b => b ? 1 : 0,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => null,
    };

    public static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s is not ("" or "0"),
        _ => true,
    };

    public static IReadOnlyDictionary<string, object?> Hash(object? v) =>
        v as IReadOnlyDictionary<string, object?> ?? (v is IDictionary d
            ? d.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => e.Value)
            : new Dictionary<string, object?>());
}
