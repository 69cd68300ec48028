using PerlSentry.PerlBridge;

namespace PerlSentry.Cli;

/// <summary>The <c>perl-sentry</c> command: dispatches to its subcommands.</summary>
internal static class CliApp
{
    public const string Usage = """
        usage: perl-sentry <command> [options]

        commands:
          run [-I dir] [-M module] [-e code] script.pl [args…]
                    run a Perl program under the host, as perl would
          profile [-o dir] [--hz N] [--max-depth N] [--format flamegraph,speedscope,collapsed,sentry] [--force]
                  [-I dir] [-M module] [-e code] script.pl [args…]
                    run it sampled and write a flame graph, speedscope, collapsed stacks and Sentry
                    profile_chunk envelopes to dir
                    (default: a new folder under ./perl-sentry-profile); prints the top functions.
                    --hz: samples per second (default 101); --max-depth N: keep the innermost N
                    frames of deeper stacks (default 100). What was sampled is written also when
                    the program is stopped by TERM or Ctrl-C or ends in exec.
          serve [--workers N] [--listen HOST:PORT] [-I dir] [-M module] [--timeout S] [--max-body BYTES]
                [--access-log] [--traces-sample-rate R] [--profiles-sample-rate R] [--no-sentry] app.psgi
                    serve a PSGI app on Kestrel over a pool of interpreters, every request a
                    transaction with its profile (perl-sentry serve --help for more)
          agent [--socket PATH] [--foreground | --daemon] [--idle-timeout SECONDS]
                    the engine for Perl processes that have none of their own (plain perl,
                    forked children); clients start it when they need it
          help      show this text
          version   show the versions of perl-sentry and of the perl it embeds

        environment:
          PERLSENTRY_LIBPERL   path of the libperl.so to embed (default: the one the shim was built for)
          PERLSENTRY_SHIM      path of libperlbridge.so (default: next to perl-sentry)
        """;

    /// <summary>The product version as packed (<c>0.1.0</c>), without the build metadata the SDK appends after a '+'.</summary>
    public static string ProductVersion =>
        (System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(CliApp).Assembly)
            ?.InformationalVersion ?? "0.0.0").Split('+')[0];

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

    public static int Run(string[] args, TextWriter stderr)
    {
        if (args.Length == 0)
        {
            stderr.WriteLine(Usage);
            return 2;
        }
        try
        {
            switch (args[0])
            {
                case "run":
                    return RunCommand.Execute(RunRequest.Parse(args[1..]));
                case "profile":
                    return ProfileCommand.Execute(ProfileRequest.Parse(args[1..]), stderr);
                case "serve":
                    return Serve(args, stderr);
                case "agent":
                    return AgentCommand.Execute(args[1..], stderr);
                case "help" or "-h" or "--help":
                    Console.Out.WriteLine(Usage);
                    return 0;
                case "version" or "--version":
                    Console.Out.WriteLine($"perl-sentry {ProductVersion} (perl {PerlInterpreter.PerlVersion})");
                    return 0;
                default:
                    stderr.WriteLine($"perl-sentry: unknown command '{args[0]}'.");
                    stderr.WriteLine(Usage);
                    return 2;
            }
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
}
