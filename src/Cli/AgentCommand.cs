using System.Globalization;
using PerlSentry.Engine.Agent;
using PerlSentry.Engine;

namespace PerlSentry.Cli;

/// <summary>
/// <c>perl-sentry agent</c>: the engine for Perl processes that have none of their own (plain
/// <c>perl</c> with <c>use Sentry::SDK</c>, forked children of <c>perl-sentry run</c>). Clients start
/// it on demand (<c>--daemon</c>); under systemd run it with <c>--foreground</c>.
/// </summary>
internal static class AgentCommand
{
    /// <summary>Runs the agent; <paramref name="idleTimeout"/> in seconds as given (0: never; null: 60).</summary>
    public static int Execute(string? socket, bool daemon, string? idleTimeout, TextWriter stderr)
    {
        var idle = TimeSpan.FromSeconds(60);
        if (idleTimeout is not null)
        {
            if (!double.TryParse(idleTimeout, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) || s < 0)
                throw new UsageException($"perl-sentry agent: --idle-timeout takes seconds (0: never), got '{idleTimeout}'.");
            idle = s == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(s);
        }
        socket ??= AgentProtocol.DefaultSocketPath(Environment.GetEnvironmentVariable, Posix.EffectiveUid);
        if (daemon)
            Posix.SetSid();   // no terminal: the client that started it may end any time
        var logPath = socket + ".log";
        using var logFile = daemon ? new StreamWriter(PrivateFile(logPath, FileMode.Append)) { AutoFlush = true } : null;
        var log = logFile ?? stderr;
        void Log(string m)
        {
            lock (log) log.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {m}");
        }
        var debug = Environment.GetEnvironmentVariable("PERLSENTRY_AGENT_DEBUG") is "1";
        using var server = AgentServer.Bind(new AgentServer.Settings(socket, idle == Timeout.InfiniteTimeSpan ? TimeSpan.MaxValue : idle),
            m => { if (debug || !m.Contains(": connection ended", StringComparison.Ordinal)) Log(m); }, out var why, out var running);
        if (server is null)
        {
            if (running && daemon)
                return 0;   // another client started one first: nothing to do
            stderr.WriteLine($"perl-sentry agent: {why}");
            return running ? 0 : 1;
        }
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            server.Stop();
        });
        using var intr = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            server.Stop();
        });
        var pidFile = socket + ".pid";
        using (var pid = new StreamWriter(PrivateFile(pidFile, FileMode.Create)))
            pid.WriteLine(Environment.ProcessId);
        try
        {
            server.Run();
        }
        finally
        {
            File.Delete(pidFile);
        }
        return 0;
    }

    /// <summary>A file only its user can read (the log holds what clients sent; 0600 whatever the umask).</summary>
    private static FileStream PrivateFile(string path, FileMode mode)
    {
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = mode,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return stream;
    }
}
