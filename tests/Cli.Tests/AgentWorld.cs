using System.Diagnostics;
using System.Net.Sockets;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Tests.Sentry;
using PerlSentry.Engine.Tests.Sentry.Transport;

namespace PerlSentry.Cli.Tests;

/// <summary>
/// What an end-to-end test of the agent needs: a Sentry stand-in (a real HTTP server on 127.0.0.1),
/// a private agent socket (the agent is started on demand by the first client, as users get it),
/// a private cache, and the environment plain <c>perl</c> needs to find the SDK and its XS client.
/// Disposing stops the agent and checks every envelope that arrived against the wire rules.
/// </summary>
internal sealed class AgentWorld : IDisposable
{
    public AgentWorld()
    {
        Dir = Path.Combine(Path.GetTempPath(), "perlsentry-agent-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Server = new FakeSentryServer();
    }

    public string Dir { get; }

    public FakeSentryServer Server { get; }

    public string Socket => Path.Combine(Dir, "agent.sock");

    /// <summary>The bundled Perl modules and the XS client, as the build lays them out next to the launcher.</summary>
    public static string PerlLib => Path.Combine(Path.GetDirectoryName(Repo.PerlSentry)!, "perl", "lib");

    public Dictionary<string, string> Env(params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["SENTRY_DSN"] = Server.Dsn(),
            ["XDG_CACHE_HOME"] = Path.Combine(Dir, "cache"),
            ["PERLSENTRY_AGENT"] = Socket,
            ["PERLSENTRY_AGENT_BIN"] = Repo.PerlSentry,
            ["PERL5LIB"] = PerlLib,
        };
        foreach (var (k, v) in extra)
            env[k] = v;
        return env;
    }

    /// <summary>Writes a script into the world's folder; its path.</summary>
    public string Script(string name, string code)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, code);
        return path;
    }

    public ProcessResult Perl(string script, params string[] args) =>
        ProcessRunner.Run("perl", [script, .. args], Dir, env: Env(), timeoutMs: 60_000);

    public ProcessResult Hosted(string script, params string[] args) =>
        ProcessRunner.Run(Repo.PerlSentry, ["run", script, .. args], Dir, env: Env(), timeoutMs: 60_000);

    /// <summary>The items Sentry accepted, by type.</summary>
    public List<(string Type, JObject Payload)> Items() =>
        [.. Server.Accepted.SelectMany(EnvelopeConformance.Items).Select(i => (i.Type, JObject.Parse(i.Payload)))];

    public int Count(string type) => Items().Count(i => i.Type == type);

    /// <summary>Items of <paramref name="type"/> that arrived more than once (by event id), with the requests that carried them: a failure's explanation.</summary>
    public string Duplicates(string type)
    {
        var seen = new Dictionary<string, List<int>>();
        var requests = Server.Requests;
        for (var r = 0; r < requests.Count; r++)
            foreach (var (t, payload) in EnvelopeConformance.Items(requests[r].Body))
                if (t == type && JObject.Parse(payload)["event_id"]?.ToString() is { } id)
                    (seen.TryGetValue(id, out var l) ? l : seen[id] = []).Add(r);
        return string.Join("; ", seen.Where(kv => kv.Value.Count > 1).Select(kv =>
            $"{kv.Key} in requests {string.Join(",", kv.Value.Select(i => $"#{i} ({requests[i].Answer.Kind})"))}"));
    }

    /// <summary>What the SDK reported dropping (client reports), as "reason/category=n" lines: a failure's explanation.</summary>
    public string Discarded() => string.Join(", ", Items().Where(i => i.Type == "client_report")
        .SelectMany(i => i.Payload["discarded_events"] ?? new JArray())
        .GroupBy(d => $"{d["reason"]}/{d["category"]}")
        .Select(g => $"{g.Key}={g.Sum(d => (long)d["quantity"]!)}"));

    /// <summary>Waits until Sentry has <paramref name="count"/> items of <paramref name="type"/> (or the time is up).</summary>
    public int WaitFor(string type, int count, int seconds = 20)
    {
        Server.WaitFor(_ => Count(type) >= count, TimeSpan.FromSeconds(seconds));
        Thread.Sleep(300);   // more than expected would show up now
        return Count(type);
    }

    public void AssertAllConform()
    {
        foreach (var r in Server.Requests)
            Assert.That(EnvelopeConformance.Check(r.Body), Is.Empty, System.Text.Encoding.UTF8.GetString(r.Body));
    }

    /// <summary>The running agent's pid, from its pid file.</summary>
    public int? AgentPid =>
        File.Exists(Socket + ".pid") && int.TryParse(File.ReadAllText(Socket + ".pid").Trim(), out var pid) ? pid : null;

    /// <summary>A free TCP port on 127.0.0.1 for an app server.</summary>
    public static int FreePort()
    {
        var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        if (AgentPid is { } pid)
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
                p.WaitForExit(5000);
            }
            catch (ArgumentException)
            {
                // gone already
            }
        }
        Server.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
