using System.Runtime.InteropServices;
using PerlSentry.Engine.PerlApi;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
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
        ShareWithChildPerls();
        // The main thread owns the interpreter: process-directed signals land on it first.
        var perl = PerlInterpreter.CreateOnCurrentThread();
        HostApi.Install(perl);
        WriteCapturesOnSignals();
        return perl;
    }

    private static readonly List<PosixSignalRegistration> OnSignals = [];

    /// <summary>
    /// Events are written to envelopes off the program's thread (<see cref="CaptureWriter"/>): a TERM,
    /// INT or HUP the program does not handle itself (which would end the process at once) first lets
    /// the writer finish what the program captured (up to 2 s) and the transports the sends in progress
    /// (up to 1 s), then does what it would have done.
    /// A program that sets its own handler, or <c>IGNORE</c>, gets perl's behaviour unchanged.
    /// </summary>
    private static void WriteCapturesOnSignals()
    {
        foreach (var signal in (PosixSignal[])[PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP])
            OnSignals.Add(PosixSignalRegistration.Create(signal, _ =>
            {
                if (CaptureWriter.SharedStarted)
                    CaptureWriter.Shared.Drain(TimeSpan.FromSeconds(2));
                // What the transports are sending now is recorded as sent before the process ends;
                // the rest stays in the journal for the next run, which sends each envelope once.
                BackgroundTransport.HoldAll(TimeSpan.FromSeconds(1));
            }));
    }

    /// <summary>
    /// Programs that start perl again (hypnotoad re-runs itself through <c>$^X</c>, which is the real perl)
    /// find the SDK and its XS client there too, and can start the agent: the bundled modules go on
    /// <c>PERL5LIB</c> and this launcher into <c>PERLSENTRY_AGENT_BIN</c> (unless already set).
    /// </summary>
    private static void ShareWithChildPerls()
    {
        if (BundledLib() is { } lib)
        {
            var current = HostProcess.GetNativeEnvironment("PERL5LIB");
            if (current is null || !current.Split(':').Contains(lib))
                HostProcess.SetNativeEnvironment("PERL5LIB", string.IsNullOrEmpty(current) ? lib : lib + ":" + current);
        }
        if (string.IsNullOrEmpty(HostProcess.GetNativeEnvironment("PERLSENTRY_AGENT_BIN")))
            HostProcess.SetNativeEnvironment("PERLSENTRY_AGENT_BIN", Path.Combine(AppContext.BaseDirectory, "perl-sentry"));
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
