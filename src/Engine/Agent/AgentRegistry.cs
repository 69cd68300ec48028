namespace PerlSentry.Engine.Agent;

/// <summary>The client processes the agent serves now, by pid (their interpreters share a profile store), and the transports all sessions share.</summary>
internal sealed class AgentRegistry(Action<string> log) : IDisposable
{
    private readonly Dictionary<int, ClientProcess> _processes = [];

    /// <summary>The transports the sessions share.</summary>
    public TransportPool Transports { get; } = new(log);

    public void Dispose() => Transports.Dispose();

    public ClientProcess Join(int pid, IReadOnlyList<string> libraryDirs, string cwd)
    {
        lock (_processes)
        {
            if (!_processes.TryGetValue(pid, out var p))
                _processes[pid] = p = new ClientProcess(pid, libraryDirs, cwd);
            p.Sessions++;
            return p;
        }
    }

    public void Leave(ClientProcess p)
    {
        lock (_processes)
        {
            if (--p.Sessions == 0)
                _processes.Remove(p.Pid);
        }
    }

    public int Processes { get { lock (_processes) return _processes.Count; } }
}
