using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>Tags as JSON without the reflection serializer (<c>JObject.FromObject</c> costs microseconds per event).</summary>
internal static class JsonTags
{
    public static JObject From(IReadOnlyDictionary<string, string> tags)
    {
        var o = new JObject();
        foreach (var (k, v) in tags)
            o[k] = v;
        return o;
    }
}
