using System.Diagnostics;
using System.Net.Sockets;

namespace PerlSentry.Cli.Tests;

/// <summary>A server process for a test (Starman, hypnotoad's workers): output to files, stopped with SIGTERM.</summary>
internal sealed class BackgroundProcess : IDisposable
{
    private readonly Process _process;

    public BackgroundProcess(string file, IEnumerable<string> args, string workingDir, IDictionary<string, string> env, string logPrefix)
    {
        Stdout = logPrefix + ".out";
        Stderr = logPrefix + ".err";
        var psi = new ProcessStartInfo("sh") { WorkingDirectory = workingDir };
        // sh does the redirections: no pipe of ours that a chatty server could fill and block on.
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec \"$0\" \"$@\" >\"$OUT_FILE\" 2>\"$ERR_FILE\" </dev/null");
        psi.ArgumentList.Add(file);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in env)
            psi.Environment[k] = v;
        psi.Environment["OUT_FILE"] = Stdout;
        psi.Environment["ERR_FILE"] = Stderr;
        _process = Process.Start(psi)!;
    }

    public string Stdout { get; }

    public string Stderr { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until something accepts connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public void WaitForPort(int port, int seconds = 30)
    {
        if (!PortOpens(port, seconds, () => _process.HasExited))
            throw new InvalidOperationException($"nothing listens on {port} (server exited: {_process.HasExited}): {File.ReadAllText(Stderr)}");
    }

    /// <summary>Whether something accepts connections on 127.0.0.1:<paramref name="port"/> within the time (a daemon's server, say).</summary>
    public static bool PortOpens(int port, int seconds, Func<bool>? giveUp = null)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until && giveUp?.Invoke() != true)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect("127.0.0.1", port);
                return true;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        return false;
    }

    /// <summary>SIGTERM, as a service manager stops a server; waits for it to end.</summary>
    public int Stop(int seconds = 20)
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                kill.WaitForExit();
            if (!_process.WaitForExit(seconds * 1000))
            {
                _process.Kill(entireProcessTree: true);
                throw new TimeoutException($"the server did not stop on SIGTERM in {seconds} s");
            }
        }
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
