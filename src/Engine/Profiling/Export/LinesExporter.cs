using System.Globalization;
using System.Net;
using System.Text;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// <c>lines.html</c>, beside the flame graph: the hottest lines with their source text (self and total
/// per line), then every sampled file with its sampled lines in order, each line an anchor
/// (<c>#L{file}-{line}</c>) the flame graph links to. One self-contained file, no network.
/// </summary>
public static class LinesExporter
{
    public const int Hottest = 40;

    /// <summary>The <paramref name="count"/> hottest lines as text (self %, file:line, the code), for the summary on stderr.</summary>
    public static string Top(ProfileSnapshot p, int count, SourceContext? source = null)
    {
        source ??= SourceContext.Shared;
        var all = Math.Max(1, p.TotalWeight);
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(" self %  hottest lines");
        foreach (var l in LineStats.Of(p).Where(l => l.Self > 0).Take(count))
        {
            var code = CodeOf(l, source);
            if (code.Length > 60) code = code[..57] + "...";
            sb.AppendLine(inv, $"{100.0 * l.Self / all,6:F1}%  {$"{l.File}:{l.Line}",-40} {code}");
        }
        return sb.ToString();
    }

    /// <summary>The code of a line, trimmed; empty when its file cannot be read.</summary>
    private static string CodeOf(LineStats l, SourceContext source) =>
        l.AbsPath is not null && source.LinesOf(l.AbsPath) is { } text && l.Line <= text.Length ? text[l.Line - 1].Trim() : "";

    public static string Export(ProfileSnapshot p, string title, SourceContext? source = null)
    {
        source ??= SourceContext.Shared;
        var lines = LineStats.Of(p);
        var all = Math.Max(1, p.TotalWeight);
        var files = LineStats.Files(p);
        string Pct(long v) => (100.0 * v / all).ToString("F1", CultureInfo.InvariantCulture) + "%";
        string Text(LineStats l) => CodeOf(l, source);
        string H(string s) => WebUtility.HtmlEncode(s);
        string Anchor(LineStats l) => $"L{l.FileIndex}-{l.Line}";

        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
          .Append(H(title)).Append(" — perl-sentry lines</title>\n<style>\n")
          .Append("body { font: 13px/1.35 system-ui, sans-serif; margin: 14px; color: #222; background: #fafafa; }\n")
          .Append("table { border-collapse: collapse; margin-bottom: 22px; } td, th { padding: 2px 8px; text-align: left; vertical-align: top; }\n")
          .Append("th { border-bottom: 1px solid #bbb; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }\n")
          .Append("code { font: 12px ui-monospace, monospace; white-space: pre; } tr:target { background: #ffe9a8; } .fn { color: #666; }\n")
          .Append("h2 { font-size: 14px; margin: 18px 0 6px; } a { color: #1a5fb4; text-decoration: none; }\n")
          .Append("</style>\n</head>\n<body>\n<h1 style=\"font-size:16px\">").Append(H(title)).Append(" — time per line</h1>\n")
          .Append("<p>").Append(p.TotalWeight).Append(" ticks of ").Append(p.Interval.TotalMilliseconds.ToString("F2", CultureInfo.InvariantCulture))
          .Append(" ms. <b>self</b>: the line was running; <b>total</b>: it was on the stack (a call made there in progress). From the samples the profile took: no extra cost.</p>\n");

        sb.Append("<h2>Hottest lines</h2>\n<table>\n<tr><th>self</th><th>total</th><th>where</th><th>sub</th><th>code</th></tr>\n");
        foreach (var l in lines.Take(Hottest))
        {
            sb.Append("<tr><td class=\"n\">").Append(Pct(l.Self)).Append("</td><td class=\"n\">").Append(Pct(l.Total))
              .Append("</td><td><a href=\"#").Append(Anchor(l)).Append("\">").Append(H($"{l.File}:{l.Line}")).Append("</a></td><td class=\"fn\">")
              .Append(H(l.Functions[0])).Append("</td><td><code>").Append(H(Text(l))).Append("</code></td></tr>\n");
        }
        sb.Append("</table>\n");

        foreach (var byFile in lines.GroupBy(l => l.FileIndex).OrderByDescending(g => g.Sum(l => l.Self)).ThenBy(g => g.Key))
        {
            var file = files[byFile.Key];
            sb.Append("<h2 id=\"F").Append(byFile.Key).Append("\">").Append(H(file)).Append("</h2>\n<table>\n<tr><th>line</th><th>self</th><th>total</th><th>code</th><th>sub</th></tr>\n");
            foreach (var l in byFile.OrderBy(l => l.Line))
            {
                sb.Append("<tr id=\"").Append(Anchor(l)).Append("\"><td class=\"n\">").Append(l.Line).Append("</td><td class=\"n\">").Append(Pct(l.Self))
                  .Append("</td><td class=\"n\">").Append(Pct(l.Total)).Append("</td><td><code>").Append(H(Text(l))).Append("</code></td><td class=\"fn\">")
                  .Append(H(string.Join(", ", l.Functions))).Append("</td></tr>\n");
            }
            sb.Append("</table>\n");
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }
}
