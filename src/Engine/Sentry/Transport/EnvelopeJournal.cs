using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// The disk cache: envelopes are appended to a journal before the capture call returns (one write,
/// to the page cache: it survives the process, <c>kill -9</c> included) and sent from there; what is
/// delivered or dropped for good is marked done, and a segment whose records are all done is deleted.
/// Measured on this project's machine: an append costs about 1 µs, a file per envelope 66–172 µs.
/// <para>
/// Each transport writes segments of its own (<c>&lt;pid&gt;-&lt;n&gt;.journal</c>, 0600, in a 0700 folder),
/// locked while it lives (flock, through .NET's exclusive open). A segment nobody holds belongs to a
/// transport that ended or a process that died: the next transport on the folder adopts it and sends
/// what is left, so two processes on one cache deliver everything once. Records:
/// <c>u32 magic, u32 length, u32 FNV-1a of the bytes, bytes</c>; a torn last record is ignored.
/// </para>
/// </summary>
public sealed class EnvelopeJournal : IEnvelopeQueue
{
    private const uint Magic = 0x314A5350;   // "PSJ1"
    private const long SegmentLimit = 4 << 20;
    private const string Suffix = ".journal";
    private const long HeldLimit = 8 << 20;
    private static readonly long RescanNs = (long)TimeSpan.FromSeconds(5).TotalNanoseconds;
    private static int _instances;

    private readonly Lock _gate = new();
    private readonly string _dir;
    private readonly int _capacity;
    private readonly string _prefix;
    private readonly LinkedList<Entry> _pending = new();   // oldest first
    private int _claimed;   // entries of _pending being sent
    private int _parked;    // entries of _pending waiting for a later try
    private readonly List<Segment> _segments = [];
    private Segment? _active;
    private int _segmentNo;
    private long _nextRescanNs;
    private long _held;   // bytes of the envelopes kept in memory beside their records
    private bool _disposed;

    private sealed class Segment(string path, FileStream file, long length)
    {
        public string Path { get; } = path;

        public FileStream File { get; } = file;

        /// <summary>Taken once: each read of FileStream.SafeFileHandle costs an lseek (it syncs the stream's position).</summary>
        public SafeFileHandle Handle { get; } = file.SafeFileHandle;

        public long Length { get; set; } = length;

        public int Live { get; set; }

        public bool Active { get; set; }

        public FileStream? Done { get; private set; }

        public SafeFileHandle? DoneHandle { get; private set; }

        /// <summary>The file of done marks, opened on first use.</summary>
        public SafeFileHandle DoneFile()
        {
            if (DoneHandle is { } open)
                return open;
            Done = PrivateFiles.Open(Path + ".done", FileMode.OpenOrCreate, FileAccess.Write, FileShare.None);
            DoneHandle = Done.SafeFileHandle;
            DoneLength = RandomAccess.GetLength(DoneHandle);
            return DoneHandle;
        }

        public long DoneLength { get; set; }
    }

    private sealed class Entry(Segment segment, long offset, int length, IReadOnlyList<string> types)
    {
        public Segment Segment { get; } = segment;

        public long Offset { get; } = offset;

        public int Length { get; } = length;

        public IReadOnlyList<string> Types { get; } = types;

        /// <summary>The envelope as it was added, while the journal keeps it in memory: sent without reading the record back.</summary>
        public SerializedEnvelope? Held { get; set; }

        public long ParkedUntil { get; set; }

        public bool Claimed { get; set; }

        public LinkedListNode<Entry>? Node { get; set; }
    }

    public EnvelopeJournal(string directory, int capacity)
    {
        _dir = directory;
        _capacity = capacity;
        _prefix = $"{Environment.ProcessId}-{Interlocked.Increment(ref _instances)}-{Random.Shared.Next():x8}";
        PrivateFiles.EnsureDirectory(directory);
        AdoptOrphans();
    }

    public string Directory => _dir;

    public bool IsPersistent => true;

    /// <summary>The cache folder for one sink under <paramref name="root"/>: different DSNs never share files.</summary>
    public static string FolderFor(string root, string sinkName)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(sinkName));
        return Path.Combine(root, "envelopes-" + Convert.ToHexStringLower(hash)[..16]);
    }

    public IReadOnlyList<IReadOnlyList<string>> Add(SerializedEnvelope envelope, bool evict = true)
    {
        var bytes = envelope.Bytes;
        var record = new byte[12 + bytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(record, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(4), bytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), Checksum(bytes));
        bytes.CopyTo(record, 12);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var seg = ActiveSegment(record.Length);
            RandomAccess.Write(seg.Handle, record, seg.Length);   // one write; IOException (disk full) goes to the caller
            var entry = new Entry(seg, seg.Length, record.Length, [.. envelope.ItemTypes]);
            if (_held + bytes.Length <= HeldLimit)
            {
                // Sending keeps up in the usual case: the copy in memory spares reading the record back
                // and parsing it (with a 100% traced server, 6% of its CPU). A backlog past the limit
                // is read from disk as before.
                entry.Held = envelope;
                _held += bytes.Length;
            }
            seg.Length += record.Length;
            seg.Live++;
            entry.Node = _pending.AddLast(entry);
            var dropped = new List<IReadOnlyList<string>>();
            var node = _pending.First;
            while (evict && _pending.Count > _capacity && node is not null)
            {
                var next = node.Next;
                if (!node.Value.Claimed)   // one being sent right now stays
                {
                    Finish(node.Value);
                    dropped.Add(node.Value.Types);
                }
                node = next;
            }
            return dropped;
        }
    }

    private Segment ActiveSegment(int recordLength)
    {
        if (_active is { } a && a.Length + recordLength <= SegmentLimit)
            return a;
        if (_active is { } full)
        {
            full.Active = false;
            DeleteIfDone(full);
        }
        var path = Path.Combine(_dir, $"{_prefix}-{++_segmentNo:D4}{Suffix}");
        var file = PrivateFiles.Open(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        _active = new Segment(path, file, 0) { Active = true };
        _segments.Add(_active);
        return _active;
    }

    public QueuedEnvelope? TryClaim(long nowNs)
    {
        Entry? entry = null;
        lock (_gate)
        {
            if (_disposed)
                return null;
            if (nowNs >= _nextRescanNs)
            {
                _nextRescanNs = nowNs + RescanNs;
                AdoptOrphans();
            }
            for (var n = _pending.First; n is not null; n = n.Next)
            {
                if (!n.Value.Claimed && n.Value.ParkedUntil <= nowNs)
                {
                    entry = n.Value;
                    entry.Claimed = true;
                    _claimed++;
                    if (entry.ParkedUntil != 0)
                    {
                        entry.ParkedUntil = 0;
                        _parked--;
                    }
                    break;
                }
            }
        }
        if (entry is null)
            return null;
        if (entry.Held is { } held)
            return new QueuedEnvelope(held, entry);
        var record = new byte[entry.Length];
        try
        {
            RandomAccess.Read(entry.Segment.Handle, record, entry.Offset);
            return new QueuedEnvelope(SerializedEnvelope.Parse(record[12..]), entry);
        }
        catch (Exception e) when (e is IOException or FormatException or ObjectDisposedException)
        {
            lock (_gate) Finish(entry);   // unreadable: it cannot be sent
            return null;
        }
    }

    public void Complete(QueuedEnvelope entry)
    {
        if (entry.Place is not Entry e)
            return;
        lock (_gate) Finish(e);
    }

    public void Release(QueuedEnvelope entry, long notBeforeNs)
    {
        if (entry.Place is not Entry e)
            return;
        lock (_gate)
        {
            if (e.Node is null)
                return;
            if (e.Claimed)
                _claimed--;
            e.Claimed = false;
            _parked += (notBeforeNs != 0 ? 1 : 0) - (e.ParkedUntil != 0 ? 1 : 0);
            e.ParkedUntil = notBeforeNs;
        }
    }

    public int Count { get { lock (_gate) return _pending.Count - _claimed; } }

    public int DueCount(long nowNs)
    {
        lock (_gate)
            return _parked == 0 ? _pending.Count - _claimed : _pending.Count(e => !e.Claimed && e.ParkedUntil <= nowNs);
    }

    /// <summary>Marks a record done (its offset appended to the segment's done file) and forgets it. Called under the gate.</summary>
    private void Finish(Entry e)
    {
        if (e.Node is null)
            return;
        _pending.Remove(e.Node);
        e.Node = null;
        if (e.Held is { } held)
        {
            _held -= held.Bytes.Length;
            e.Held = null;
        }
        if (e.Claimed)
            _claimed--;
        if (e.ParkedUntil != 0)
            _parked--;
        e.Claimed = false;
        e.ParkedUntil = 0;
        var seg = e.Segment;
        seg.Live--;
        if (!DeleteIfDone(seg))
        {
            try
            {
                var done = seg.DoneFile();
                Span<byte> off = stackalloc byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(off, e.Offset);
                RandomAccess.Write(done, off, seg.DoneLength);
                seg.DoneLength += 8;
            }
            catch (IOException)
            {
                // the next process may send it again: better twice than never
            }
        }
    }

    /// <summary>A segment nothing is waiting in, no longer written to, goes. Called under the gate.</summary>
    private bool DeleteIfDone(Segment seg)
    {
        if (seg.Live > 0 || seg.Active)
            return false;
        seg.Done?.Dispose();
        seg.File.Dispose();
        TryDelete(seg.Path + ".done");
        TryDelete(seg.Path);
        _segments.Remove(seg);
        return true;
    }

    /// <summary>Takes over segments no live transport holds (an ended transport, a dead process). Called under the gate or from the constructor.</summary>
    private void AdoptOrphans()
    {
        IEnumerable<string> files;
        try
        {
            files = System.IO.Directory.EnumerateFiles(_dir, "*" + Suffix);
        }
        catch (IOException)
        {
            return;
        }
        foreach (var path in files.Order(StringComparer.Ordinal))
        {
            if (_segments.Any(s => s.Path == path))
                continue;
            FileStream handle;
            try
            {
                handle = PrivateFiles.Open(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;   // a live transport holds it (or it went meanwhile)
            }
            Load(path, handle);
        }
    }

    private void Load(string path, FileStream file)
    {
        var handle = file.SafeFileHandle;
        var length = RandomAccess.GetLength(handle);
        var seg = new Segment(path, file, length);
        var done = new HashSet<long>();
        if (System.IO.File.Exists(path + ".done"))
        {
            var marks = System.IO.File.ReadAllBytes(path + ".done");
            for (var i = 0; i + 8 <= marks.Length; i += 8)
                done.Add(BinaryPrimitives.ReadInt64LittleEndian(marks.AsSpan(i)));
        }
        var head = new byte[12];
        long at = 0;
        while (at + 12 <= length)
        {
            RandomAccess.Read(handle, head, at);
            var n = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(4));
            if (BinaryPrimitives.ReadUInt32LittleEndian(head) != Magic || n < 0 || at + 12 + n > length)
                break;   // a torn last write
            if (!done.Contains(at))
            {
                var bytes = new byte[n];
                RandomAccess.Read(handle, bytes, at + 12);
                var sum = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(8));
                if (Checksum(bytes) == sum || Fnv(bytes) == sum)   // FNV: records of journals written before 0.1.1
                {
                    try
                    {
                        var types = SerializedEnvelope.Parse(bytes).ItemTypes.ToList();
                        var entry = new Entry(seg, at, 12 + n, types);
                        seg.Live++;
                        entry.Node = _pending.AddLast(entry);
                    }
                    catch (FormatException)
                    {
                        // not an envelope: skipped
                    }
                }
            }
            at += 12 + n;
        }
        _segments.Add(seg);
        DeleteIfDone(seg);
    }

    /// <summary>CRC-32C, eight bytes a step (the CPU's crc32 instruction where there is one): the record's check on the program's thread.</summary>
    internal static uint Checksum(ReadOnlySpan<byte> data)
    {
        var crc = ~0u;
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var w in words)
            crc = System.Numerics.BitOperations.Crc32C(crc, w);
        foreach (var b in data[(words.Length * 8)..])
            crc = System.Numerics.BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    private static uint Fnv(ReadOnlySpan<byte> data)
    {
        var h = 2166136261u;
        foreach (var b in data)
            h = (h ^ b) * 16777619u;
        return h;
    }

    private static void TryDelete(string path)
    {
        try
        {
            System.IO.File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Closes the segments (what is pending stays on disk for the next transport or process).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            if (_active is not null)
                _active.Active = false;
            foreach (var seg in _segments.ToList())
            {
                if (!DeleteIfDone(seg))
                {
                    seg.Done?.Dispose();
                    seg.File.Dispose();
                }
            }
            _segments.Clear();
            _pending.Clear();
            _claimed = _parked = 0;
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"journal {_dir} ({_pending.Count} waiting)");
}
