using System.Text;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// Brendan Gregg's collapsed stacks: one line per distinct stack, root first,
/// <c>main;A::b;A::c 42</c>, the count being sampler ticks. Sorted for stable output.
/// </summary>
public static class CollapsedExporter
{
    public static string Export(ProfileSnapshot p)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var s in p.Samples)
        {
            var key = string.Join(';', p.Stacks[s.StackId].Reverse().Select(i => Clean(p.Frames[i].Function)));
            counts[key] = counts.GetValueOrDefault(key) + s.Weight;
        }
        var sb = new StringBuilder();
        foreach (var (stack, n) in counts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            sb.Append(stack).Append(' ').Append(n).Append('\n');
        return sb.ToString();
    }

    /// <summary>';' separates frames and the last space the count: neither may appear in a name.</summary>
    private static string Clean(string name) => name.Replace(';', ':').Replace(' ', '_');
}
