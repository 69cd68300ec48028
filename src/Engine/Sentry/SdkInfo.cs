namespace PerlSentry.Engine.Sentry;

/// <summary>The SDK's name and version as Sentry sees them.</summary>
public sealed record SdkInfo(string Name, string Version)
{
    /// <summary>The Perl SDK's name in Sentry (as the CPAN Sentry::SDK names itself) and the engine's version.</summary>
    public static SdkInfo Default { get; } = new("sentry.perl", typeof(SdkInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
}
