namespace PerlSentry.Engine.Agent;

/// <summary>The frames between the agent and its clients (layout in src/PerlBridge/Native/native/pb_client.h).</summary>
public static class AgentProtocol
{
    public const int Version = 1;

    public const byte Hello = 1;
    public const byte Call = 2;
    public const byte Samples = 3;
    public const byte CallbackResult = 4;
    public const byte HelloOk = 0x80;
    public const byte Reply = 0x81;
    public const byte Callback = 0x82;
    public const byte Ack = 0x83;

    public const byte CommandAcquire = 1;
    public const byte CommandRelease = 2;

    public const byte StatusOk = 0;
    public const byte StatusDied = 1;
    public const byte StatusExited = 2;

    /// <summary>No frame is bigger (a client that says otherwise is cut off).</summary>
    public const int MaxFrame = 64 << 20;

    /// <summary>The default socket: <c>$XDG_RUNTIME_DIR/perl-sentry/agent.sock</c>, else <c>/tmp/perl-sentry-$UID/agent.sock</c>; <c>PERLSENTRY_AGENT</c> names another.</summary>
    public static string DefaultSocketPath(Func<string, string?> env, uint uid)
    {
        if (env("PERLSENTRY_AGENT") is { Length: > 0 } explicitPath)
            return explicitPath;
        var run = env("XDG_RUNTIME_DIR");
        var dir = !string.IsNullOrEmpty(run) && run.StartsWith('/') ? Path.Combine(run, "perl-sentry") : $"/tmp/perl-sentry-{uid}";
        return Path.Combine(dir, "agent.sock");
    }
}
