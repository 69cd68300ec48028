using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.PerlApi;

/// <summary>
/// The subs every hosted interpreter gets (under <c>PerlSentry::Host::</c>); perl/lib/PerlSentry.pm
/// wraps them. They let Perl code tell that it runs under the host and with which engine.
/// </summary>
public static class HostApi
{
    public static string EngineVersion => Sentry.SdkInfo.Default.Version;

    public static void Install(PerlInterpreter perl)
    {
        perl.DefineSub("PerlSentry::Host::engine_version", static (ref PerlCall call) => call.Return(EngineVersion));
        perl.DefineSub("PerlSentry::Host::runtime", static (ref PerlCall call) =>
            call.Return(System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription));
        // Sentry::Internal calls it as the SDK's modules load: the JSON library's first use starts beside the program.
        perl.DefineSub("PerlSentry::Host::prepare", static (ref PerlCall call) => Session.Warmup.StartJson());
        SentryApi.Install(perl);
    }
}
