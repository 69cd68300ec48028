using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// JSON written once and carried as a raw token (breadcrumbs, a transaction's spans, the default
/// contexts): copying it into each event copies a string, not a tree. Read back only when a caller
/// must see the tree (a Perl callback, a fork snapshot).
/// </summary>
public static class RawJson
{
    public static JRaw From(JToken value) => new(value.ToString(Formatting.None));

    /// <summary>The tree again; strings stay strings (no date parsing).</summary>
    public static JToken Parse(JRaw raw)
    {
        using var reader = new JsonTextReader(new StringReader((string)raw.Value!)) { DateParseHandling = DateParseHandling.None };
        return JToken.ReadFrom(reader);
    }

    /// <summary>
    /// Replaces every raw token under <paramref name="root"/> with its tree, in place: what a callback
    /// (<c>before_send</c>, an event processor) is given is a plain tree it can index.
    /// </summary>
    public static JObject Expand(JObject root)
    {
        Expand((JToken)root);
        return root;
    }

    private static void Expand(JToken token)
    {
        switch (token)
        {
            case JObject o:
                foreach (var p in o.Properties().ToList())
                {
                    if (p.Value is JRaw r) p.Value = Parse(r);
                    else Expand(p.Value);
                }
                break;
            case JArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (a[i] is JRaw r) a[i] = Parse(r);
                    else Expand(a[i]);
                }
                break;
        }
    }
}
