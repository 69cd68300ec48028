namespace PerlSentry.Cli;

/// <summary>What <c>perl-sentry run</c> was asked to do, parsed from its arguments.</summary>
internal sealed record RunRequest(
    IReadOnlyList<string> IncludeDirs,
    IReadOnlyList<string> Modules,
    IReadOnlyList<string> Code,
    string? Script,
    IReadOnlyList<string> Arguments)
{
    /// <summary>
    /// Parses <c>[-I dir] [-M mod] [-e code] [--] script args…</c>; the switches may be attached
    /// (<c>-Ilib</c>, <c>-MPOSIX=floor</c>). Everything after the script (or after <c>-e</c> code
    /// and <c>--</c>) belongs to the script, as with perl.
    /// </summary>
    public static RunRequest Parse(IReadOnlyList<string> args) => Parse(args, "run", "perl-sentry run [-I dir] [-M module] [-e code] script.pl [args…]");

    /// <summary>The same, for a command that takes run's options after its own (errors name it and give its usage).</summary>
    public static RunRequest Parse(IReadOnlyList<string> args, string command, string usage)
    {
        var inc = new List<string>();
        var mods = new List<string>();
        var code = new List<string>();
        var i = 0;
        for (; i < args.Count; i++)
        {
            var a = args[i];
            if (a == "--")
            {
                i++;
                break;
            }
            if (a.Length < 2 || a[0] != '-')
                break;
            var flag = a[..2];
            var attached = a[2..];
            switch (flag)
            {
                case "-I": inc.Add(Value(args, ref i, attached, command, "-I", "a directory")); break;
                case "-M": mods.Add(Value(args, ref i, attached, command, "-M", "a module name")); break;
                case "-e": code.Add(Value(args, ref i, attached, command, "-e", "Perl code")); break;
                default:
                    throw new UsageException(
                        $"perl-sentry {command}: unknown switch '{a}'. Supported: -I dir, -M module, -e code; " +
                        $"other perl switches can go on the script's #! line or in PERL5OPT. Usage: {usage}");
            }
        }
        string? script = null;
        if (code.Count == 0)
        {
            if (i >= args.Count)
                throw new UsageException($"perl-sentry {command}: no script given. Usage: {usage}");
            script = args[i++];
        }
        var rest = new List<string>(args.Count - i);
        for (; i < args.Count; i++)
            rest.Add(args[i]);
        return new RunRequest(inc, mods, code, script, rest);
    }

    private static string Value(IReadOnlyList<string> args, ref int i, string attached, string command, string flag, string what)
    {
        if (attached.Length > 0)
            return attached;
        if (i + 1 >= args.Count)
            throw new UsageException($"perl-sentry {command}: {flag} needs {what}.");
        return args[++i];
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
