namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// Time per source line, from the samples already taken (no extra cost while profiling): a line's
/// <c>Self</c> is the ticks it was the line running, its <c>Total</c> the ticks it was on the stack
/// (a call in progress there), counted once per sample.
/// </summary>
/// <param name="File">The file as perl names it.</param>
/// <param name="FileIndex">Its place in <see cref="Files"/>: anchors in lines.html are <c>L{FileIndex}-{Line}</c>.</param>
/// <param name="Functions">The subs that ran this line, hottest first.</param>
public sealed record LineStats(string File, string? AbsPath, int FileIndex, int Line, long Self, long Total, IReadOnlyList<string> Functions)
{
    /// <summary>The files of the profile in a fixed order (ordinal), shared by the flame graph's links and lines.html.</summary>
    public static IReadOnlyList<string> Files(ProfileSnapshot p) =>
        [.. p.Frames.Select(f => f.FileName).Where(f => f.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>Every line that appears in a sample, hottest (self, then total) first.</summary>
    public static IReadOnlyList<LineStats> Of(ProfileSnapshot p)
    {
        var files = Files(p);
        var index = files.Select((f, i) => (f, i)).ToDictionary(x => x.f, x => x.i, StringComparer.Ordinal);
        var self = new Dictionary<(string, int), long>();
        var total = new Dictionary<(string, int), long>();
        var functions = new Dictionary<(string, int), Dictionary<string, long>>();
        var absPath = new Dictionary<string, string?>(StringComparer.Ordinal);
        var seen = new HashSet<(string, int)>();
        foreach (var s in p.Samples)
        {
            seen.Clear();
            var stack = p.Stacks[s.StackId];
            for (var k = 0; k < stack.Length; k++)
            {
                var f = p.Frames[stack[k]];
                if (f.FileName.Length == 0 || f.Line <= 0)
                    continue;
                var key = (f.FileName, f.Line);
                absPath.TryAdd(f.FileName, f.AbsPath);
                if (k == 0)
                    self[key] = self.GetValueOrDefault(key) + s.Weight;
                if (!seen.Add(key))
                    continue;
                total[key] = total.GetValueOrDefault(key) + s.Weight;
                if (!functions.TryGetValue(key, out var byFunction))
                    functions[key] = byFunction = new Dictionary<string, long>(StringComparer.Ordinal);
                byFunction[f.Function] = byFunction.GetValueOrDefault(f.Function) + s.Weight;
            }
        }
        return [.. total.Keys
            .Select(key => new LineStats(key.Item1, absPath[key.Item1], index[key.Item1], key.Item2, self.GetValueOrDefault(key), total[key],
                [.. functions[key].OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key)]))
            .OrderByDescending(l => l.Self).ThenByDescending(l => l.Total).ThenBy(l => l.File, StringComparer.Ordinal).ThenBy(l => l.Line)];
    }
}
