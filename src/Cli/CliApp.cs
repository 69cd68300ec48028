using System.CommandLine;
using PerlSentry.PerlBridge;

namespace PerlSentry.Cli;

/// <summary>The <c>perl-sentry</c> command: hands <c>serve</c> to its host, parses the rest (<see cref="Commands"/>) and runs it.</summary>
internal static class CliApp
{
    private static readonly string[] Names = ["run", "profile", "serve", "agent"];

    /// <summary>The product version as packed (<c>0.1.0</c>), without the build metadata the SDK appends after a '+'.</summary>
    public static string ProductVersion =>
        (System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(CliApp).Assembly)
            ?.InformationalVersion ?? "0.0.0").Split('+')[0];

    public static int Run(string[] args, TextWriter stderr)
    {
        if (args.Length > 0 && args[0] == "serve")
            return Serve(args, stderr);
        // The words older releases took: "help" and "version".
        if (args is ["help"] or [])
            args = ["--help"];
        else if (args is ["version"])
            args = ["--version"];
        if (args[0] is var first && !first.StartsWith('-') && !first.StartsWith('[') && Array.IndexOf(Names, first) < 0)
        {
            stderr.WriteLine($"perl-sentry: unknown command '{first}'. Commands: {string.Join(", ", Names)}.");
            stderr.WriteLine("usage: perl-sentry <command> [options]; perl-sentry --help lists them, perl-sentry <command> --help tells more.");
            return 2;
        }
        try
        {
            List<string> tokens = [.. args];
            List<string> scriptArgs = [];
            if (args[0] is "run" or "profile")
                (tokens, scriptArgs) = PerlSwitches.Split(args);
            if (args[0] == "run" && PerlSwitches.FastRun(tokens, scriptArgs) is { } request)
                return RunCommand.Execute(request);
            return ParseAndInvoke(tokens, scriptArgs, stderr);
        }
        catch (UsageException e)
        {
            stderr.WriteLine(e.Message);
            return 2;
        }
        catch (PerlBridgeException e)
        {
            stderr.WriteLine("perl-sentry: " + e.Message);
            return 2;
        }
    }

    /// <summary>
    /// Everything but a plain run: System.CommandLine's parse and invocation. A method of its own, never
    /// inlined, so a plain run does not load System.CommandLine (nor System.Linq).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static int ParseAndInvoke(List<string> tokens, List<string> scriptArgs, TextWriter stderr)
    {
        var root = Commands.Build(scriptArgs, stderr);
        // No @file response files: a script's name or argument may start with '@'.
        var parsed = root.Parse(tokens, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            var name = command == root ? "perl-sentry" : $"perl-sentry {command.Name}";
            foreach (var message in parsed.Errors.Select(e => e.Message).Distinct())
                stderr.WriteLine($"{name}: {message}");
            stderr.WriteLine($"Try '{name} --help'.");
            return 2;
        }
        return parsed.Invoke(new InvocationConfiguration { Error = stderr, EnableDefaultExceptionHandler = false });
    }

    /// <summary>serve has a host of its own (it loads ASP.NET Core, which run does not need): hand over to it.</summary>
    private static int Serve(string[] args, TextWriter stderr)
    {
        var host = Path.Combine(AppContext.BaseDirectory, "perl-sentry-serve");
        if (!File.Exists(host))
        {
            stderr.WriteLine($"perl-sentry serve: {host} is missing; reinstall perl-sentry");
            return 2;
        }
        var error = HostProcess.Exec(host, [host, .. args]);
        stderr.WriteLine($"perl-sentry serve: cannot start {host}: {error}");
        return 2;
    }
}
