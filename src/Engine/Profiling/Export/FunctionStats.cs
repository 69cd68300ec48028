namespace PerlSentry.Engine.Profiling.Export;

/// <summary>Per-function totals over a profile, for the top-functions table.</summary>
/// <param name="Function">The sub.</param>
/// <param name="Location">file:line where it spent the most of its own time; among equals, the one seen on most stacks.</param>
/// <param name="SelfWeight">Ticks with this sub innermost.</param>
/// <param name="TotalWeight">Ticks with this sub anywhere on the stack (counted once per sample).</param>
public sealed record FunctionStats(string Function, string Location, long SelfWeight, long TotalWeight)
{
    public static IReadOnlyList<FunctionStats> Compute(ProfileSnapshot p)
    {
        var self = new Dictionary<string, long>(StringComparer.Ordinal);
        var total = new Dictionary<string, long>(StringComparer.Ordinal);
        // Per function, per file:line: (self weight there, stacks it appeared on there).
        var lines = new Dictionary<string, Dictionary<string, (long Self, long Seen)>>(StringComparer.Ordinal);
        foreach (var s in p.Samples)
        {
            var stack = p.Stacks[s.StackId];
            if (stack.Length == 0)
                continue;
            var leaf = p.Frames[stack[0]];
            self[leaf.Function] = self.GetValueOrDefault(leaf.Function) + s.Weight;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var k = 0; k < stack.Length; k++)
            {
                var f = p.Frames[stack[k]];
                if (seen.Add(f.Function))
                    total[f.Function] = total.GetValueOrDefault(f.Function) + s.Weight;
                if (!lines.TryGetValue(f.Function, out var at))
                    lines[f.Function] = at = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
                var loc = $"{f.FileName}:{f.Line}";
                var (selfThere, seenThere) = at.GetValueOrDefault(loc);
                at[loc] = (selfThere + (k == 0 ? s.Weight : 0), seenThere + 1);
            }
        }
        return total.Keys
            .Select(fn => new FunctionStats(fn,
                lines[fn].OrderByDescending(kv => kv.Value.Self).ThenByDescending(kv => kv.Value.Seen).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key,
                self.GetValueOrDefault(fn), total[fn]))
            .OrderByDescending(f => f.SelfWeight).ThenByDescending(f => f.TotalWeight).ThenBy(f => f.Function, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The table <c>perl-sentry profile</c> prints.</summary>
    public static string Table(ProfileSnapshot p, int rows = 15)
    {
        var stats = Compute(p);
        var all = Math.Max(1, p.TotalWeight);
        var sb = new System.Text.StringBuilder();
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"{"self %",7} {"total %",8}  {"function",-48} location");
        foreach (var f in stats.Take(rows))
        {
            var name = f.Function.Length > 48 ? f.Function[..45] + "..." : f.Function;
            sb.AppendLine(inv, $"{100.0 * f.SelfWeight / all,6:F1}% {100.0 * f.TotalWeight / all,7:F1}%  {name,-48} {f.Location}");
        }
        return sb.ToString();
    }
}
