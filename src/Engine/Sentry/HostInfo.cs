using System.Runtime.InteropServices;

namespace PerlSentry.Engine.Sentry;

/// <summary>The device, OS and runtime facts Sentry's profile formats require (spec §2: device.architecture, os.name, os.version).</summary>
public sealed record HostInfo(string Architecture, string OsName, string OsVersion, string PerlVersion)
{
    public static HostInfo Current(string perlVersion) => new(
        RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "x86_64",
            System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
            System.Runtime.InteropServices.Architecture.X86 => "i686",
            var a => a.ToString().ToLowerInvariant(),
        },
        OperatingSystem.IsLinux() ? "Linux" : RuntimeInformation.OSDescription,
        KernelRelease(),
        perlVersion);

    private static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return Environment.OSVersion.Version.ToString();
        }
    }
}
