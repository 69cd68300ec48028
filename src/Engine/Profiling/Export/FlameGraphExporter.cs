using System.Reflection;
using Newtonsoft.Json;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// A self-contained HTML flame graph: one file, no network, zoom by click, regex search.
/// Frames merge by function along each path (root at the bottom); widths are sampler ticks.
/// </summary>
public static class FlameGraphExporter
{
    private sealed class Node(string name)
    {
        public string Name { get; } = name;
        public long Value;
        public long Self;
        public bool InApp = true;
        public string? Location;
        public Dictionary<string, Node> Children { get; } = new(StringComparer.Ordinal);
    }

    public static string Export(ProfileSnapshot p, string title)
    {
        var root = new Node("all");
        foreach (var s in p.Samples)
        {
            var node = root;
            node.Value += s.Weight;
            var stack = p.Stacks[s.StackId];
            for (var k = stack.Length - 1; k >= 0; k--)
            {
                var f = p.Frames[stack[k]];
                if (!node.Children.TryGetValue(f.Function, out var child))
                {
                    child = new Node(f.Function) { InApp = f.InApp, Location = f.FileName };
                    node.Children[f.Function] = child;
                }
                child.Value += s.Weight;
                node = child;
            }
            node.Self += s.Weight;
        }
        using var sw = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(sw))
        {
            w.WriteStartObject();
            w.WritePropertyName("samples");
            w.WriteValue(p.Samples.Count);
            w.WritePropertyName("ticks");
            w.WriteValue(root.Value);
            w.WritePropertyName("intervalMs");
            w.WriteValue(p.Interval.TotalMilliseconds);
            w.WritePropertyName("root");
            Write(w, root);
            w.WriteEndObject();
        }
        // "</" must not end the inline script early.
        var json = sw.ToString().Replace("</", "<\\/", StringComparison.Ordinal);
        return Template().Replace("__TITLE__", System.Net.WebUtility.HtmlEncode(title), StringComparison.Ordinal)
            .Replace("/*DATA*/", json, StringComparison.Ordinal);
    }

    private static void Write(JsonTextWriter w, Node n)
    {
        w.WriteStartObject();
        w.WritePropertyName("n"); w.WriteValue(n.Name);
        w.WritePropertyName("v"); w.WriteValue(n.Value);
        w.WritePropertyName("s"); w.WriteValue(n.Self);
        if (!n.InApp) { w.WritePropertyName("a"); w.WriteValue(0); }
        if (n.Location is not null) { w.WritePropertyName("l"); w.WriteValue(n.Location); }
        if (n.Children.Count > 0)
        {
            w.WritePropertyName("c");
            w.WriteStartArray();
            foreach (var c in n.Children.Values.OrderByDescending(c => c.Value).ThenBy(c => c.Name, StringComparer.Ordinal))
                Write(w, c);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static string Template()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("flamegraph.html")
            ?? throw new InvalidOperationException("flamegraph.html is not embedded");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
