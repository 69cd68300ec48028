using System.Net.Sockets;


namespace PerlSentry.Engine.Agent;

/// <summary>
/// <c>perl-sentry agent</c>: the engine for Perl processes that have none of their own, on a Unix
/// stream socket that only its user can reach (a 0700 folder, a 0600 socket, and the peer's uid
/// checked on every connection). One session per connection, each on a thread of its own; one
/// timer drains them all once a second. It ends after <see cref="Settings.IdleTimeout"/> with no
/// clients (each session flushed as its client left), or when <see cref="Stop"/> is called.
/// </summary>
public sealed class AgentServer : IDisposable
{
    public sealed record Settings(string SocketPath, TimeSpan IdleTimeout);

    private readonly Settings _settings;
    private readonly Action<string> _log;
    private readonly AgentRegistry _registry;
    private readonly List<AgentConnection> _connections = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Socket _listener;
    private Timer? _tick;
    private DateTime _idleSince = DateTime.UtcNow;

    private AgentServer(Settings settings, Socket listener, Action<string> log)
    {
        _settings = settings;
        _listener = listener;
        _log = log;
        _registry = new AgentRegistry(log);
    }

    /// <summary>
    /// Binds the socket. Null, with the reason in <paramref name="why"/>, when another agent already
    /// answers there (<paramref name="alreadyRunning"/>) or the place is not safe to use.
    /// </summary>
    public static AgentServer? Bind(Settings settings, Action<string> log, out string? why, out bool alreadyRunning)
    {
        why = null;
        alreadyRunning = false;
        var dir = Path.GetDirectoryName(Path.GetFullPath(settings.SocketPath)) ?? "/";
        if (!Directory.Exists(dir))
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (Posix.Stat(dir) is not { } st || st.Uid != Posix.EffectiveUid)
        {
            why = $"{dir} belongs to another user; the agent's socket must be in a folder of your own";
            return null;
        }
        if ((st.Mode & 0x12) != 0)   // group- or world-writable
        {
            why = $"{dir} can be written by other users; make it private (chmod 700 {dir})";
            return null;
        }
        if (Posix.Stat(settings.SocketPath) is not null)
        {
            if (Answers(settings.SocketPath))
            {
                alreadyRunning = true;
                why = $"an agent already answers at {settings.SocketPath}";
                return null;
            }
            File.Delete(settings.SocketPath);   // left by an agent that died
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(settings.SocketPath));
            File.SetUnixFileMode(settings.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            if (e.SocketErrorCode == SocketError.AddressAlreadyInUse && Answers(settings.SocketPath))
                alreadyRunning = true;
            why = $"cannot listen at {settings.SocketPath} ({e.Message})";
            return null;
        }
        return new AgentServer(settings, listener, log);
    }

    private static bool Answers(string path)
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public int Clients { get { lock (_connections) return _connections.Count; } }

    /// <summary>Serves until idle for <see cref="Settings.IdleTimeout"/> or stopped; then waits for the sessions to flush.</summary>
    public void Run()
    {
        _tick = new Timer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        _log($"agent {Environment.ProcessId} listening at {_settings.SocketPath}");
        var threads = new List<Thread>();
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = _listener.AcceptAsync(_stop.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                break;
            }
            if (Posix.PeerUid(client) is not { } uid || uid != Posix.EffectiveUid)
            {
                _log($"refused a connection from uid {Posix.PeerUid(client)?.ToString() ?? "?"}");
                client.Dispose();
                continue;
            }
            var connection = new AgentConnection(client, _registry, _log);
            lock (_connections) _connections.Add(connection);
            var thread = new Thread(() => Serve(connection)) { IsBackground = true, Name = "agent-client" };
            thread.Start();
            threads.RemoveAll(t => !t.IsAlive);
            threads.Add(thread);
        }
        _tick.Dispose();
        _listener.Dispose();
        TryDelete(_settings.SocketPath);
        // Clients still connected when stopped: their sessions flush as their threads end.
        lock (_connections)
            foreach (var c in _connections)
                c.Dispose();
        foreach (var t in threads)
            t.Join(TimeSpan.FromSeconds(10));
        _registry.Dispose();   // the shared transports: flushed, what is left stays in their journals
        _log("agent stopped");
    }

    private void Serve(AgentConnection connection)
    {
        try
        {
            connection.Run();
        }
        finally
        {
            connection.Dispose();
            lock (_connections)
            {
                _connections.Remove(connection);
                if (_connections.Count == 0)
                    _idleSince = DateTime.UtcNow;
            }
        }
    }

    private void Tick()
    {
        AgentConnection[] all;
        lock (_connections) all = [.. _connections];
        foreach (var c in all)
            c.Tick();
        if (all.Length == 0 && DateTime.UtcNow - _idleSince >= _settings.IdleTimeout)
        {
            _log($"no clients for {_settings.IdleTimeout.TotalSeconds:0} s; exiting");
            Stop();
        }
    }

    public void Stop() => _stop.Cancel();

    public void Dispose()
    {
        _stop.Cancel();
        _tick?.Dispose();
        _listener.Dispose();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }
}
