namespace PerlSentry.Engine.Sentry;

/// <summary>A bad option at init: the message names the option and what is allowed.</summary>
public sealed class SentryOptionsException(string option, string message) : Exception(message)
{
    public string Option { get; } = option;
}
