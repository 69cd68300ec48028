using System.Globalization;

namespace PerlSentry.Cli;

/// <summary><c>perl-sentry profile [-o DIR] [--hz N] [--max-depth N] [--format LIST] [--force] [run options] script args…</c></summary>
internal sealed record ProfileRequest(string? OutputDir, int Hz, int MaxDepth, IReadOnlySet<string> Formats, bool Force, RunRequest Run)
{
    public static readonly string[] AllFormats = ["flamegraph", "speedscope", "collapsed", "sentry"];

    /// <summary>The request from profile's options as given (null: not given); a bad value is a <see cref="UsageException"/>.</summary>
    public static ProfileRequest From(string? output, string? hz, string? depth, string? format, bool force, RunRequest run)
    {
        var formats = new HashSet<string>(AllFormats, StringComparer.Ordinal);
        if (format is not null)
        {
            formats = format.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
            var unknown = formats.Except(AllFormats).ToList();
            if (unknown.Count > 0 || formats.Count == 0)
                throw new UsageException($"perl-sentry profile: unknown format '{string.Join(",", unknown)}'; choose from {string.Join(", ", AllFormats)}.");
        }
        return new ProfileRequest(output,
            hz is null ? 101 : Number(hz, "--hz", 1, 10_000),
            depth is null ? 100 : Number(depth, "--max-depth", 1, 10_000),
            formats, force, run);
    }

    private static int Number(string s, string flag, int min, int max) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new UsageException($"perl-sentry profile: {flag} takes a whole number from {min} to {max}, not '{s}'.");

    /// <summary>The folder to write: -o (refused when it has files, unless --force), else a new one under ./perl-sentry-profile.</summary>
    /// <summary>
    /// The output folder as an absolute path (the program may chdir), made and checked writable now,
    /// before the program runs, not after.
    /// </summary>
    public string ResolveOutputDir(DateTime now)
    {
        string dir;
        if (OutputDir is not null)
        {
            if (Directory.Exists(OutputDir) && Directory.EnumerateFileSystemEntries(OutputDir).Any() && !Force)
                throw new UsageException($"perl-sentry profile: {OutputDir} exists and is not empty; choose another -o, or add --force to overwrite.");
            dir = OutputDir;
        }
        else
        {
            var name = Run.Script is null ? "e" : Path.GetFileNameWithoutExtension(Run.Script);
            var baseDir = Path.Combine("perl-sentry-profile", $"{name}-{now:yyyyMMdd-HHmmss}");
            dir = baseDir;
            for (var n = 2; Directory.Exists(dir); n++)
                dir = $"{baseDir}-{n}";
        }
        dir = Path.GetFullPath(dir);
        var probe = Path.Combine(dir, $".perl-sentry-probe-{Environment.ProcessId}");
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e switch
            {
                UnauthorizedAccessException => "permission denied",
                DirectoryNotFoundException or FileNotFoundException => "the folder cannot be made there",
                _ when e.HResult == 30 || e.Message.Contains("Read-only", StringComparison.OrdinalIgnoreCase) => "read-only file system",
                _ => e.Message,
            };
            throw new UsageException($"perl-sentry profile: cannot write the profile to {dir} ({why}); choose another -o.");
        }
        return dir;
    }
}
