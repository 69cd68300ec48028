using System.Diagnostics;

namespace PerlSentry.PerlBridge;

/// <summary>Finds libperl and the shim built for it.</summary>
/// <remarks>
/// Order: <c>PERLSENTRY_LIBPERL</c> (a path to libperl.so) &gt; the record the shim
/// build wrote next to it (<c>libperlbridge.json</c>) &gt; asking <c>perl -MConfig</c>.
/// </remarks>
public static class LibPerlLocator
{
    public const string LibPerlVariable = "PERLSENTRY_LIBPERL";
    public const string ShimVariable = "PERLSENTRY_SHIM";

    public static string ShimPath()
    {
        var fromEnv = Environment.GetEnvironmentVariable(ShimVariable);
        if (!string.IsNullOrEmpty(fromEnv))
            return File.Exists(fromEnv)
                ? fromEnv
                : throw new PerlBridgeException($"{ShimVariable}={fromEnv}: no such file.");
        var path = Path.Combine(AppContext.BaseDirectory, "libperlbridge.so");
        return File.Exists(path)
            ? path
            : throw new PerlBridgeException(
                $"libperlbridge.so is not next to the program ({AppContext.BaseDirectory}). " +
                $"Build it with src/PerlBridge/Native/native/build-shim.sh, or point {ShimVariable} at it.");
    }

    public static string LibPerlPath(string shimPath)
    {
        var fromEnv = Environment.GetEnvironmentVariable(LibPerlVariable);
        if (!string.IsNullOrEmpty(fromEnv))
            return fromEnv;
        var lib = Record(shimPath, "libperl");
        if (!string.IsNullOrEmpty(lib) && (File.Exists(lib) || !lib.Contains('/')))
            return lib;
        return AskPerl();
    }

    /// <summary>A value from the key=value record build-shim.sh writes next to the shim.</summary>
    private static string? Record(string shimPath, string key)
    {
        var record = Path.ChangeExtension(shimPath, ".conf");
        if (!File.Exists(record))
            return null;
        foreach (var line in File.ReadLines(record))
            if (line.StartsWith(key + "=", StringComparison.Ordinal))
                return line[(key.Length + 1)..];
        return null;
    }

    private static string AskPerl()
    {
        const string script =
            "use Config; die qq(no shared libperl\\n) unless $Config{useshrplib} eq q(true);" +
            "my ($p) = grep { -e } map { qq($_/$Config{libperl}) } qq($Config{archlibexp}/CORE), split q( ), $Config{libpth};" +
            "print $p // $Config{libperl}";
        try
        {
            var psi = new ProcessStartInfo("perl") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-e");
            psi.ArgumentList.Add(script);
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd().Trim();
            var error = p.StandardError.ReadToEnd().Trim();
            p.WaitForExit();
            if (p.ExitCode != 0 || output.Length == 0)
                throw new PerlBridgeException(
                    $"this perl has no shared libperl ({error}); PerlSentry needs a perl built with " +
                    $"-Duseshrplib (check: perl -V:useshrplib), or set {LibPerlVariable} to a libperl.so.");
            return output;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new PerlBridgeException($"cannot run perl to find libperl ({e.Message}); set {LibPerlVariable}.", e);
        }
    }
}
