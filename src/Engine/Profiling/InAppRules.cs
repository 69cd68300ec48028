namespace PerlSentry.Engine.Profiling;

/// <summary>
/// Decides <c>in_app</c>: files under perl's own library directories are not the application's;
/// <c>in_app_include</c> prefixes (files or packages) win over that, <c>in_app_exclude</c> wins over both defaults.
/// </summary>
public sealed class InAppRules(IEnumerable<string> libraryDirs, IEnumerable<string>? include = null, IEnumerable<string>? exclude = null)
{
    private readonly string[] _libraryDirs = libraryDirs.Where(d => d.Length > 0).Select(WithSlash).Distinct().ToArray();
    private readonly string[] _include = (include ?? []).ToArray();
    private readonly string[] _exclude = (exclude ?? []).ToArray();

    public bool IsInApp(string module, string file, string? absPath)
    {
        var path = absPath ?? file;
        if (Matches(_include, module, path))
            return true;
        if (Matches(_exclude, module, path))
            return false;
        return !_libraryDirs.Any(d => path.StartsWith(d, StringComparison.Ordinal));
    }

    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ProfileFrame, ProfileFrame> _decided = [];

    /// <summary>
    /// <paramref name="frame"/> with <c>in_app</c> decided by these rules: the same object for the same
    /// frame every time (a store's frames live as long as the store; this holds them no longer), so
    /// exporters can keep what they derive from it (<see cref="Export.SentryProfileWriter"/>: its JSON).
    /// </summary>
    public ProfileFrame Decide(ProfileFrame frame) =>
        _decided.GetValue(frame, f => f with { InApp = IsInApp(f.Module, f.FileName, f.AbsPath) });

    /// <summary>A prefix names a package (<c>My::App</c>) or a path (<c>/srv/app/lib</c>).</summary>
    private static bool Matches(string[] prefixes, string module, string path) =>
        prefixes.Any(p => p.Contains('/', StringComparison.Ordinal)
            ? path.StartsWith(p, StringComparison.Ordinal)
            : module == p || module.StartsWith(p + "::", StringComparison.Ordinal));

    private static string WithSlash(string d) => d.EndsWith('/') ? d : d + "/";
}
