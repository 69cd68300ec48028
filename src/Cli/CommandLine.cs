namespace PerlSentry.Cli;

/// <summary>What <c>perl-sentry run</c> was asked to do (Commands parses it, with perl's switch rules).</summary>
internal sealed record RunRequest(
    IReadOnlyList<string> IncludeDirs,
    IReadOnlyList<string> Modules,
    IReadOnlyList<string> Code,
    string? Script,
    IReadOnlyList<string> Arguments)
{
    /// <summary>The request from the parsed switches; no script and no -e is a <see cref="UsageException"/>.</summary>
    public static RunRequest Of(IReadOnlyList<string> inc, IReadOnlyList<string> mods, IReadOnlyList<string> code, string? script,
        IReadOnlyList<string> scriptArgs, string command, string usage)
    {
        if (code.Count == 0 && script is null)
            throw new UsageException($"perl-sentry {command}: no script given. Usage: {usage}");
        // With -e, a script-like word is the program's first argument, as with perl.
        IReadOnlyList<string> args = code.Count > 0 && script is not null ? [script, .. scriptArgs] : scriptArgs;
        return new RunRequest(inc, mods, code, code.Count > 0 ? null : script, args);
    }

    /// <summary>The argv perl_parse gets: the bundled perl/lib after the user's -I dirs.</summary>
    public IReadOnlyList<string> PerlArgv(string? bundledLib)
    {
        var argv = new List<string> { "perl" };
        foreach (var d in IncludeDirs)
            argv.Add("-I" + d);
        if (bundledLib is not null)
            argv.Add("-I" + bundledLib);
        foreach (var m in Modules)
            argv.Add("-M" + m);
        foreach (var c in Code)
        {
            argv.Add("-e");
            argv.Add(c);
        }
        if (Script is not null)
            argv.Add(Script);
        else
            argv.Add("--");
        argv.AddRange(Arguments);
        return argv;
    }
}
