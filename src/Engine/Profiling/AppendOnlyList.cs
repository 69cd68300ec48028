using System.Collections;

namespace PerlSentry.Engine.Profiling;

/// <summary>
/// A list that only grows, in chunks that never move: <see cref="View"/> is a fixed-length, read-only
/// view of what it holds now, readable from any thread while one writer (under its owner's lock) adds
/// more. The profile store's frames and stacks: a snapshot is a view, not a copy of every frame and
/// stack the process has seen.
/// </summary>
internal sealed class AppendOnlyList<T>
{
    private const int Shift = 10;
    private const int ChunkSize = 1 << Shift;
    private T[][] _chunks = new T[4][];
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public T this[int index] => (uint)index < (uint)Count
        ? Volatile.Read(ref _chunks)[index >> Shift][index & (ChunkSize - 1)]
        : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Adds an item; one writer at a time.</summary>
    public void Add(T item)
    {
        var i = _count;
        var chunk = i >> Shift;
        var chunks = _chunks;
        if (chunk == chunks.Length)
        {
            var bigger = new T[chunks.Length * 2][];
            Array.Copy(chunks, bigger, chunks.Length);   // the chunks themselves stay where they are
            Volatile.Write(ref _chunks, chunks = bigger);
        }
        (chunks[chunk] ??= new T[ChunkSize])[i & (ChunkSize - 1)] = item;
        Volatile.Write(ref _count, i + 1);   // published after the item is in place
    }

    /// <summary>What the list holds now, as a read-only list that later adds do not change.</summary>
    public IReadOnlyList<T> View()
    {
        // The count first: the writer puts the chunk table in place before it publishes the count, so
        // the table read after it holds every chunk the count covers.
        var count = Count;
        return new Snapshot(Volatile.Read(ref _chunks), count);
    }

    private sealed class Snapshot(T[][] chunks, int count) : IReadOnlyList<T>
    {
        public int Count => count;

        public T this[int index] => (uint)index < (uint)count
            ? chunks[index >> Shift][index & (ChunkSize - 1)]
            : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<T> GetEnumerator()
        {
            for (var i = 0; i < count; i++)
                yield return chunks[i >> Shift][i & (ChunkSize - 1)];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
