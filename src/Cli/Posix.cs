using System.Runtime.InteropServices;

namespace PerlSentry.Cli;

/// <summary>The POSIX facts the CLI needs that .NET does not offer.</summary>
internal static class Posix
{
    public static uint EffectiveUid => geteuid();

    [DllImport("libc")]
    private static extern uint geteuid();
}
