using System.Collections;
using System.Globalization;
using Newtonsoft.Json;
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
    /// <summary>Perl data as JSON (see <see cref="Write"/>).</summary>
    public static JToken ToJson(object? v, int depth = 0)
    {
        var w = new JTokenWriter();
        Write(w, v, depth);
        return w.Token!;
    }

    /// <summary>
    /// Writes Perl data as JSON: hashes as objects, arrays as arrays, numbers and strings as they are,
    /// <c>\1</c>, <c>\0</c> and JSON::PP booleans as booleans, other references by name; deeper than
    /// 64 levels as <c>"[too deep]"</c>. One conversion for the tree (<see cref="ToJson"/>) and for
    /// events written straight to bytes (<see cref="DirectEvent"/>).
    /// </summary>
    public static void Write(JsonWriter w, object? v, int depth)
    {
        if (depth > 64)
        {
            w.WriteValue("[too deep]");
            return;
        }
        switch (v)
        {
            case null: w.WriteNull(); break;
            case string s: w.WriteValue(EventSize.Cut(s)); break;   // Sentry's limit for a string
            case bool b: w.WriteValue(b); break;
            case long l: w.WriteValue(l); break;
            case int i: w.WriteValue((long)i); break;
            case double d when double.IsFinite(d): w.WriteValue(d); break;
            case double d: w.WriteValue(d.ToString(CultureInfo.InvariantCulture)); break;
            case IDictionary<string, object?> dict:
                w.WriteStartObject();
                foreach (var (k, x) in dict)
                {
                    w.WritePropertyName(k);
                    Write(w, x, depth + 1);
                }
                w.WriteEndObject();
                break;
            case IEnumerable<object?> list:
                w.WriteStartArray();
                foreach (var x in list)
                    Write(w, x, depth + 1);
                w.WriteEndArray();
                break;
            // \1, \0 and JSON::PP::true/false: what Perl code writes for JSON booleans.
            case IPerlRef { Kind: PerlRefKind.Scalar } r when r.ClassName is null or "JSON::PP::Boolean" or "Types::Serialiser::Boolean":
                w.WriteValue(Truthy(r.Deref()));
                break;
            case IPerlRef r: w.WriteValue(r.ClassName is { } cls ? $"{cls} object" : $"{r.Kind} reference"); break;
            default: w.WriteValue(Convert.ToString(v, CultureInfo.InvariantCulture) ?? ""); break;
        }
    }

    /// <summary>Whether <paramref name="v"/> holds a Perl reference anywhere (reading one needs the interpreter's thread).</summary>
    public static bool HasPerlRefs(object? v, int depth = 0)
    {
        switch (v)
        {
            case null or string or long or double or bool:
                return false;
            case IPerlRef:
                return true;
            case var _ when depth > 64:
                return false;   // written as "[too deep]": not read
            case Dictionary<string, object?> d:   // what the bridge decodes a hash to (loops, not LINQ: every capture asks)
                foreach (var x in d.Values)
                    if (HasPerlRefs(x, depth + 1))
                        return true;
                return false;
            case List<object?> l:
                foreach (var x in l)
                    if (HasPerlRefs(x, depth + 1))
                        return true;
                return false;
            case IDictionary<string, object?> d:
                return d.Values.Any(x => HasPerlRefs(x, depth + 1));
            case IEnumerable<object?> list:
                return list.Any(x => HasPerlRefs(x, depth + 1));
            default:
                return false;
        }
    }

    /// <summary>Perl data as JSON text, held as a <see cref="JRaw"/>: cheap to clone, written as it is.</summary>
    public static JRaw ToRawJson(object? v)
    {
        var sw = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(sw) { Formatting = Formatting.None })
            Write(w, v, 0);
        return new JRaw(sw.ToString());
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

    /// <summary>A line number (a whole number ≥ 1, given as a number or its text), or null.</summary>
    public static long? LineNumber(object? v) => Number(v) is { } d && d >= 1 && d <= int.MaxValue && d == Math.Floor(d) ? (long)d : null;

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
