namespace PerlSentry.Cli.Tests;

/// <summary>Paths of the checkout and of the built perl-sentry the tests run.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// The perl-sentry launcher under test: <c>PERLSENTRY_CLI</c> (the build's published copy), else the
    /// one built in the same configuration as these tests.
    /// </summary>
    public static string PerlSentry { get; } = Environment.GetEnvironmentVariable("PERLSENTRY_CLI") is { Length: > 0 } cli
        ? cli
        : Path.Combine(Root, "src", "Cli", "bin", new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "perl-sentry");

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "PerlSentry.sln")))
                return d.FullName;
        throw new InvalidOperationException("PerlSentry.sln not found above " + AppContext.BaseDirectory);
    }
}
