using PerlSentry.Engine.PerlApi;
using PerlSentry.PerlBridge;

namespace PerlSentry.Cli;

/// <summary><c>perl-sentry run</c>: a drop-in for <c>perl</c>.</summary>
internal static class RunCommand
{
    public static int Execute(RunRequest request)
    {
        var perl = CreateHostedInterpreter();
        return perl.RunProgram(request.PerlArgv(BundledLib()));
    }

    /// <summary>The process set up as perl would be, and an interpreter with the host's subs (run and profile share it).</summary>
    internal static PerlInterpreter CreateHostedInterpreter()
    {
        HostProcess.EnsureWriteXorExecuteDisabled();
        HostProcess.UseDefaultSignalActions();
        // The main thread owns the interpreter: process-directed signals land on it first.
        var perl = PerlInterpreter.CreateOnCurrentThread();
        HostApi.Install(perl);
        return perl;
    }

    /// <summary>The Sentry Perl modules shipped with the host (perl/lib next to the program).</summary>
    internal static string? BundledLib()
    {
        var env = Environment.GetEnvironmentVariable("PERLSENTRY_PERL_LIB");
        if (!string.IsNullOrEmpty(env))
            return env;
        var dir = Path.Combine(AppContext.BaseDirectory, "perl", "lib");
        return Directory.Exists(dir) ? dir : null;
    }
}
