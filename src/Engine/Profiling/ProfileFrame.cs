namespace PerlSentry.Engine.Profiling;

/// <summary>A frame as Sentry and the local exporters show it (spec/sentry-profiles.md §2, "Frame").</summary>
/// <param name="Function">The sub executing in the frame: <c>My::Pkg::name</c>, <c>Pkg::__ANON__[file:line]</c>, <c>(eval)[file:line]</c>, <c>main</c>.</param>
/// <param name="Module">The package, for grouping (empty for evals).</param>
/// <param name="FileName">The file as perl names it.</param>
/// <param name="AbsPath">The absolute path, or null when the file is not a real one (string evals).</param>
/// <param name="Line">The line executing in that sub.</param>
/// <param name="InApp">False for perl's own library directories (and excluded prefixes).</param>
public sealed record ProfileFrame(string Function, string Module, string FileName, string? AbsPath, int Line, bool InApp)
{
    /// <summary>The SDK's own subs (Sentry::…, PerlSentry::…): left out of the leaf of a marker sample.</summary>
    public static bool IsSdkFrame(ProfileFrame f) =>
        f.Module.StartsWith("Sentry::", StringComparison.Ordinal) || f.Module == "Sentry"
        || f.Module.StartsWith("PerlSentry", StringComparison.Ordinal);

    /// <summary>The package part of a sub name: <c>A::B</c> of <c>A::B::c</c> and of <c>A::B::__ANON__[f:1]</c>.</summary>
    public static string ModuleOf(string function)
    {
        var name = function;
        var bracket = name.IndexOf('[', StringComparison.Ordinal);
        if (bracket >= 0)
            name = name[..bracket];
        if (name.StartsWith('('))
            return "";
        var sep = name.LastIndexOf("::", StringComparison.Ordinal);
        return sep > 0 ? name[..sep] : "main";
    }
}
