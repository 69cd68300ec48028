using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using PerlSentry.PerlBridge;

namespace PerlSentry.Cli;

/// <summary>
/// The command tree (System.CommandLine): each command's options, its <c>--help</c>, the root's
/// <c>--version</c>, and shell completion (<c>[suggest]</c>). <c>run</c> and <c>profile</c> keep perl's
/// switch rules: <see cref="PerlSwitches"/> finds where the script is, the parser sees only the switches
/// before it, and everything after the script is the script's, untouched.
/// </summary>
internal static class Commands
{
    public const string RunUsage = "perl-sentry run [-I dir] [-M module] [-e code] script.pl [args…]";

    public const string ProfileUsage = "perl-sentry profile [-o dir] [--hz N] [--max-depth N] [--format LIST] [--force] [-I dir] [-M module] [-e code] script.pl [args…]";

    /// <summary>The tree; <paramref name="scriptArgs"/> are the arguments after the script, which the parser never sees.</summary>
    public static RootCommand Build(IReadOnlyList<string> scriptArgs, TextWriter stderr)
    {
        var root = new RootCommand("perl-sentry: run, profile and serve Perl programs with Sentry (errors, tracing, profiles)");
        foreach (var option in root.Options)
            if (option is VersionOption)
                option.Action = new Print(() => $"perl-sentry {CliApp.ProductVersion} (perl {PerlInterpreter.PerlVersion})");

        var (runInc, runMods, runCode, runScript) = PerlOptions();
        var run = new Command("run", "Run a Perl program under the host, as perl would (same @ARGV, $0, streams, exit status)")
        {
            runInc, runMods, runCode, runScript, ScriptArgs(),
        };
        run.SetAction(r => RunCommand.Execute(Request(r, runInc, runMods, runCode, runScript, scriptArgs, "run", RunUsage)));
        root.Subcommands.Add(run);

        var (inc, mods, code, script) = PerlOptions();
        var output = new Option<string?>("--output", "-o") { Description = "Folder to write (default: a new one under ./perl-sentry-profile); refused when not empty unless --force", HelpName = "dir" };
        var hz = new Option<string?>("--hz") { Description = "Samples per second (default 101)", HelpName = "N" };
        var depth = new Option<string?>("--max-depth") { Description = "Keep the innermost N frames of deeper stacks (default 100)", HelpName = "N" };
        var format = new Option<string?>("--format") { Description = "Which outputs: flamegraph,speedscope,collapsed,sentry (default: all)", HelpName = "LIST" };
        var force = new Option<bool>("--force") { Description = "Write into a folder that has files" };
        var profile = new Command("profile", "Run a Perl program sampled, write a flame graph, speedscope, collapsed stacks and Sentry profile chunks, and print the top functions and lines")
        {
            output, hz, depth, format, force, inc, mods, code, script, ScriptArgs(),
        };
        profile.SetAction(r => ProfileCommand.Execute(ProfileRequest.From(
            r.GetValue(output), r.GetValue(hz), r.GetValue(depth), r.GetValue(format), r.GetValue(force),
            Request(r, inc, mods, code, script, scriptArgs, "profile", ProfileUsage)), stderr));
        root.Subcommands.Add(profile);

        // serve has a host of its own (CliApp hands it over before parsing): here for the root's help and completion.
        root.Subcommands.Add(new Command("serve", "Serve a PSGI app on Kestrel over a pool of interpreters, every request a transaction with its profile (perl-sentry serve --help)"));

        var socket = new Option<string?>("--socket") { Description = "The socket to listen on (default: $XDG_RUNTIME_DIR/perl-sentry/agent.sock)", HelpName = "PATH" };
        var foreground = new Option<bool>("--foreground") { Description = "Stay attached, log to stderr (for systemd); the default" };
        var daemon = new Option<bool>("--daemon") { Description = "Detach, log to the socket's .log file (how clients start it)" };
        var idle = new Option<string?>("--idle-timeout") { Description = "Exit after this many seconds without clients (default 60; 0: never)", HelpName = "SECONDS" };
        var agent = new Command("agent", "The engine for Perl processes that have none of their own (plain perl, forked children); clients start it when they need it")
        {
            socket, foreground, daemon, idle,
        };
        agent.SetAction(r => AgentCommand.Execute(r.GetValue(socket), r.GetValue(daemon) && !r.GetValue(foreground), r.GetValue(idle), stderr));
        root.Subcommands.Add(agent);
        return root;
    }

    private static (Option<string[]> Inc, Option<string[]> Mods, Option<string[]> Code, Argument<string?> Script) PerlOptions() =>
    (
        new Option<string[]>("-I") { Description = "Put a directory on @INC, as perl -I (repeatable; -Idir works)", HelpName = "dir", AllowMultipleArgumentsPerToken = false },
        new Option<string[]>("-M") { Description = "Load a module, as perl -M (repeatable; -MPOSIX=floor works)", HelpName = "module", AllowMultipleArgumentsPerToken = false },
        new Option<string[]>("-e") { Description = "Run this code instead of a script (repeatable)", HelpName = "code", AllowMultipleArgumentsPerToken = false },
        new Argument<string?>("script.pl") { Description = "The program (not with -e)", Arity = ArgumentArity.ZeroOrOne }
    );

    /// <summary>Shown in help only: the arguments after the script are the script's, and the parser never reads them.</summary>
    private static Argument<string[]> ScriptArgs() => new("args") { Description = "The script's own arguments (its @ARGV), untouched", Arity = ArgumentArity.ZeroOrMore };

    private static RunRequest Request(ParseResult r, Option<string[]> inc, Option<string[]> mods, Option<string[]> code, Argument<string?> script,
        IReadOnlyList<string> scriptArgs, string command, string usage) =>
        RunRequest.Of(r.GetValue(inc) ?? [], r.GetValue(mods) ?? [], r.GetValue(code) ?? [], r.GetValue(script), scriptArgs, command, usage);

    /// <summary>An action that prints a line (the version).</summary>
    private sealed class Print(Func<string> text) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(text());
            return 0;
        }
    }
}

/// <summary>
/// perl's switch rules for <c>run</c> and <c>profile</c>: the switches come first (attached values such
/// as <c>-Ilib</c> allowed); the first word that is not a switch is the script, and it and everything
/// after it belong to the program (with <c>-e</c>, everything after the switches or <c>--</c>).
/// </summary>
internal static class PerlSwitches
{
    private static readonly HashSet<string> HelpFlags = ["-h", "--help", "-?"];

    /// <summary>
    /// The tokens for the parser (the command, its switches with their values joined as <c>-X:value</c>
    /// so a value that starts with '-' stays a value, and the script) and the script's own arguments.
    /// </summary>
    public static (List<string> Parser, List<string> Script) Split(IReadOnlyList<string> args)
    {
        var command = args[0];
        var profile = command == "profile";
        var usage = profile ? Commands.ProfileUsage : Commands.RunUsage;
        var parser = new List<string> { command };
        var code = false;
        var i = 1;
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
            if (HelpFlags.Contains(a) || profile && a == "--force")
            {
                parser.Add(a);
                continue;
            }
            if (profile && a is "-o" or "--output" or "--hz" or "--max-depth" or "--format")
            {
                parser.Add(a + ":" + Value(args, ref i, "", command, a));
                continue;
            }
            var flag = a[..2];
            if (flag is "-I" or "-M" or "-e")
            {
                parser.Add(flag + ":" + Value(args, ref i, a[2..], command, flag));
                code |= flag == "-e";
                continue;
            }
            throw new UsageException(
                $"perl-sentry {command}: unknown switch '{a}'. Supported: {(profile ? "-o dir, --hz N, --max-depth N, --format LIST, --force, " : "")}-I dir, -M module, -e code; " +
                $"other perl switches can go on the script's #! line or in PERL5OPT. Usage: {usage}");
        }
        // The script (unless -e gave the program): the parser's argument; the rest is the program's.
        if (!code && i < args.Count)
            parser.Add(args[i++]);
        return (parser, [.. args.Skip(i)]);
    }

    /// <summary>
    /// <c>run</c> without a help switch, straight from <see cref="Split"/>'s tokens: it starts a program
    /// as often as perl does, and building the parser costs its start-up ~10 ms (bench/RESULTS.md).
    /// Null when the parser is needed (help).
    /// </summary>
    public static RunRequest? FastRun(List<string> parser, List<string> scriptArgs)
    {
        var inc = new List<string>();
        var mods = new List<string>();
        var code = new List<string>();
        string? script = null;
        foreach (var t in parser.Skip(1))
        {
            if (HelpFlags.Contains(t))
                return null;
            switch (t.Length > 2 && t[2] == ':' ? t[..2] : "")
            {
                case "-I": inc.Add(t[3..]); break;
                case "-M": mods.Add(t[3..]); break;
                case "-e": code.Add(t[3..]); break;
                default: script = t; break;
            }
        }
        return RunRequest.Of(inc, mods, code, script, scriptArgs, "run", Commands.RunUsage);
    }

    /// <summary>What a switch's value is, for the message when it has none.</summary>
    private static string Describe(string flag) => flag switch
    {
        "-I" or "-o" or "--output" => "a directory",
        "-M" => "a module name",
        "-e" => "Perl code",
        "--hz" => "a rate in Hz",
        "--max-depth" => "a frame count",
        _ => "a list such as flamegraph,speedscope",
    };

    private static string Value(IReadOnlyList<string> args, ref int i, string attached, string command, string flag)
    {
        if (attached.Length > 0)
            return attached;
        if (i + 1 >= args.Count)
            throw new UsageException($"perl-sentry {command}: {flag} needs {Describe(flag)}.");
        return args[++i];
    }
}
