using System.Text.RegularExpressions;

namespace PerlSentry.Cli.Tests;

/// <summary>One script of tests/compat with the set-up its header comments ask for (see tests/compat/README.md).</summary>
internal sealed partial record CompatCase(string Name, string Path, IReadOnlyList<string> Args,
    IReadOnlyList<string> Switches, string? Stdin, string? Code)
{
    public static string Directory => System.IO.Path.Combine(Repo.Root, "tests", "compat");

    public static IEnumerable<CompatCase> All() =>
        System.IO.Directory.GetFiles(Directory, "*.pl").Order(StringComparer.Ordinal).Select(Load);

    public static CompatCase Load(string path)
    {
        var header = File.ReadLines(path).TakeWhile(l => l.StartsWith('#')).ToList();
        string? Get(string key) => header.Select(l => Regex.Match(l, $@"^# {key}: (.*)$")).FirstOrDefault(m => m.Success)?.Groups[1].Value;
        return new CompatCase(System.IO.Path.GetFileName(path), path, Words(Get("args")), Words(Get("switches")),
            Get("stdin")?.Replace("\\n", "\n", StringComparison.Ordinal), Get("e"));
    }

    /// <summary>The argv after the interpreter: switches, then the script (or -e code), then its arguments.</summary>
    public IReadOnlyList<string> CommandTail()
    {
        var tail = new List<string>(Switches);
        if (Code is not null)
        {
            tail.AddRange(["-e", Code]);
            if (Args.Count > 0) tail.Add("--");
        }
        else
        {
            tail.Add(Name);
        }
        tail.AddRange(Args);
        return tail;
    }

    private static List<string> Words(string? s) =>
        s is null ? [] : WordPattern().Matches(s).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Value).ToList();

    [GeneratedRegex("\"([^\"]*)\"|\\S+")]
    private static partial Regex WordPattern();

    public override string ToString() => Name;
}
