using System.Collections.Concurrent;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// The source lines around a stack frame (<c>pre_context</c>, <c>context_line</c>, <c>post_context</c>,
/// five each way), read from the frame's <c>abs_path</c>, so Sentry shows the code. Files are read once
/// and kept (up to <see cref="MaxFiles"/>, each up to <see cref="MaxFileBytes"/>), looked at again
/// when their modification time changed (checked at most every two seconds). Thread-safe; a file that
/// cannot be read gives no lines, never an error.
/// </summary>
public sealed class SourceContext
{
    public const int Lines = 5;
    public const int MaxFiles = 200;
    public const long MaxFileBytes = 4 << 20;
    public const int MaxLineLength = 400;
    private static readonly long RecheckTicks = TimeSpan.FromSeconds(2).Ticks;

    public static SourceContext Shared { get; } = new();

    private sealed record Cached(string[]? Lines, DateTime ModifiedUtc, long CheckedTicks)
    {
        /// <summary>Per line, its three keys as written (after the first name), made on first use.</summary>
        public string?[]? Written;
    }

    private readonly ConcurrentDictionary<string, Cached> _files = new(StringComparer.Ordinal);

    /// <summary>The lines of <paramref name="absPath"/>, or null when it cannot be read (not a file, too big, gone).</summary>
    public string[]? LinesOf(string absPath)
    {
        var now = DateTime.UtcNow.Ticks;
        if (_files.TryGetValue(absPath, out var c) && now - c.CheckedTicks < RecheckTicks)
            return c.Lines;
        DateTime modified;
        try
        {
            var info = new FileInfo(absPath);
            if (!info.Exists || info.Length > MaxFileBytes)
                return Remember(absPath, null, default, now);
            modified = info.LastWriteTimeUtc;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return Remember(absPath, null, default, now);
        }
        if (c is not null && c.ModifiedUtc == modified)
            return Remember(absPath, c.Lines, modified, now, c.Written);
        string[]? lines;
        try
        {
            lines = File.ReadAllLines(absPath);   // UTF-8, invalid bytes replaced
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            lines = null;
        }
        return Remember(absPath, lines, modified, now);
    }

    private string[]? Remember(string path, string[]? lines, DateTime modified, long now, string?[]? written = null)
    {
        if (_files.Count >= MaxFiles && !_files.ContainsKey(path))
            _files.Clear();   // a program with that many files in its errors: start again rather than grow
        _files[path] = new Cached(lines, modified, now) { Written = written };
        return lines;
    }

    /// <summary>The context of line <paramref name="lineno"/> (1-based), or false when the file or line is not there.</summary>
    public bool TryGet(string? absPath, long lineno, out ArraySegment<string> pre, out string line, out ArraySegment<string> post)
    {
        pre = post = default;
        line = "";
        if (string.IsNullOrEmpty(absPath) || !Path.IsPathRooted(absPath) || lineno < 1 || LinesOf(absPath) is not { } lines || lineno > lines.Length)
            return false;
        var i = (int)lineno - 1;
        var from = Math.Max(0, i - Lines);
        pre = new ArraySegment<string>(lines, from, i - from);
        line = lines[i];
        post = new ArraySegment<string>(lines, i + 1, Math.Min(Lines, lines.Length - i - 1));
        return true;
    }

    private static string Cut(string s) => s.Length <= MaxLineLength ? s : s[..(MaxLineLength - 3)] + "...";

    /// <summary>
    /// Writes the three keys of a frame's context (nothing when there is none). A line's keys are
    /// written once per file version and kept as text: the next error at that line copies them.
    /// </summary>
    public void Write(JsonWriter w, string? absPath, long lineno)
    {
        if (!TryGet(absPath, lineno, out var pre, out var line, out var post))
            return;
        w.WritePropertyName("pre_context");
        if (_files.TryGetValue(absPath!, out var c) && ReferenceEquals(c.Lines, pre.Array))
        {
            var written = c.Written ??= new string?[c.Lines!.Length];
            w.WriteRawValue(written[lineno - 1] ??= Render(pre, line, post));
        }
        else
            w.WriteRawValue(Render(pre, line, post));
    }

    /// <summary>The keys' text after <c>"pre_context":</c>, as a JSON writer without indentation writes them.</summary>
    private static string Render(ArraySegment<string> pre, string line, ArraySegment<string> post)
    {
        var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(text) { Formatting = Formatting.None })
        {
            w.WriteStartObject();
            w.WritePropertyName("pre_context");
            w.WriteStartArray();
            foreach (var l in pre) w.WriteValue(Cut(l));
            w.WriteEndArray();
            w.WritePropertyName("context_line");
            w.WriteValue(Cut(line));
            w.WritePropertyName("post_context");
            w.WriteStartArray();
            foreach (var l in post) w.WriteValue(Cut(l));
            w.WriteEndArray();
            w.WriteEndObject();
        }
        var sb = text.GetStringBuilder();
        const int head = 15;   // {"pre_context":
        return sb.ToString(head, sb.Length - head - 1);
    }

    /// <summary>Adds the three keys to a frame of an event tree (the same as <see cref="Write"/>).</summary>
    public void AddTo(JObject frame, string? absPath, long lineno)
    {
        if (!TryGet(absPath, lineno, out var pre, out var line, out var post))
            return;
        frame["pre_context"] = new JArray(pre.Select(Cut));
        frame["context_line"] = Cut(line);
        frame["post_context"] = new JArray(post.Select(Cut));
    }
}
