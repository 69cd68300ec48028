using System.Globalization;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// The on-disk cache: every envelope is written (atomically, by rename) before it is sent and
/// deleted once it is delivered or dropped for good, so an outage, a 5xx, <c>kill -9</c> or a restart
/// loses nothing; what is left is sent by the next process that uses the same folder.
/// A process claims a file by renaming it to <c>*.&lt;pid&gt;.sending</c>; claims of dead processes
/// are taken back at start.
/// </summary>
public sealed class DiskEnvelopeQueue : IEnvelopeQueue
{
    private const string Suffix = ".envelope";
    private readonly Lock _gate = new();
    private readonly int _capacity;
    private readonly Dictionary<string, long> _parkedUntil = [];
    private readonly string _sendingSuffix = $".{Environment.ProcessId}.sending";
    private long _seq;

    public DiskEnvelopeQueue(string directory, int capacity)
    {
        Directory = directory;
        _capacity = capacity;
        System.IO.Directory.CreateDirectory(directory);
        RecoverAbandonedClaims();
    }

    public string Directory { get; }

    public bool IsPersistent => true;

    /// <summary>The cache folder for one sink under <paramref name="root"/>: different DSNs never share files.</summary>
    public static string FolderFor(string root, string sinkName)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(sinkName));
        return Path.Combine(root, "envelopes-" + Convert.ToHexStringLower(hash)[..16]);
    }

    private void RecoverAbandonedClaims()
    {
        foreach (var f in System.IO.Directory.EnumerateFiles(Directory, "*.sending"))
        {
            var name = Path.GetFileName(f);
            var parts = name.Split('.');
            // <name>.envelope.<pid>.sending
            if (parts.Length < 4 || !int.TryParse(parts[^2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            if (pid != Environment.ProcessId && System.IO.Directory.Exists($"/proc/{pid}"))
                continue;   // a live process is sending it
            TryMove(f, Path.Combine(Directory, name[..name.IndexOf(Suffix, StringComparison.Ordinal)] + Suffix));
        }
        foreach (var f in System.IO.Directory.EnumerateFiles(Directory, ".*.tmp"))
            TryDelete(f);
    }

    public IReadOnlyList<byte[]> Add(byte[] envelope)
    {
        lock (_gate)
        {
            var name = $"{DateTime.UtcNow:yyyyMMddHHmmssfffffff}-{Environment.ProcessId}-{Interlocked.Increment(ref _seq):D6}{Suffix}";
            var tmp = Path.Combine(Directory, "." + name + ".tmp");
            File.WriteAllBytes(tmp, envelope);
            File.Move(tmp, Path.Combine(Directory, name));
            var dropped = new List<byte[]>();
            var files = Waiting();
            for (var i = 0; i < files.Count - _capacity; i++)
            {
                try
                {
                    var data = File.ReadAllBytes(files[i]);
                    File.Delete(files[i]);
                    dropped.Add(data);
                }
                catch (IOException)
                {
                    // another process claimed it meanwhile
                }
            }
            return dropped;
        }
    }

    private List<string> Waiting() =>
        [.. System.IO.Directory.EnumerateFiles(Directory, "*" + Suffix).Order(StringComparer.Ordinal)];

    public QueuedEnvelope? TryClaim(long nowNs)
    {
        lock (_gate)
        {
            foreach (var f in Waiting())
            {
                var name = Path.GetFileName(f);
                if (_parkedUntil.TryGetValue(name, out var until) && until > nowNs)
                    continue;
                var claimed = f + _sendingSuffix;
                if (!TryMove(f, claimed))
                    continue;
                try
                {
                    return new QueuedEnvelope(File.ReadAllBytes(claimed), claimed) { FileName = name };
                }
                catch (IOException)
                {
                    TryDelete(claimed);
                }
            }
            return null;
        }
    }

    public void Complete(QueuedEnvelope entry)
    {
        lock (_gate)
        {
            if (entry.Path is not null)
                TryDelete(entry.Path);
            if (entry.FileName is not null)
                _parkedUntil.Remove(entry.FileName);
        }
    }

    public void Release(QueuedEnvelope entry, long notBeforeNs)
    {
        lock (_gate)
        {
            if (entry.Path is null || entry.FileName is null)
                return;
            _parkedUntil[entry.FileName] = notBeforeNs;
            TryMove(entry.Path, Path.Combine(Directory, entry.FileName));
        }
    }

    public int Count { get { lock (_gate) return Waiting().Count; } }

    public int DueCount(long nowNs)
    {
        lock (_gate)
            return Waiting().Count(f => !(_parkedUntil.TryGetValue(Path.GetFileName(f), out var u) && u > nowNs));
    }

    private static bool TryMove(string from, string to)
    {
        try
        {
            File.Move(from, to);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
    }
}
