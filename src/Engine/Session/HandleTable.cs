using System.Globalization;

namespace PerlSentry.Engine.Session;

/// <summary>
/// The engine objects a client's Perl handles point at. The client names the objects it creates
/// (positive ids it allocates, so creating never waits for an answer); objects the engine hands out
/// that have no id yet (a scope's span, a profile it started) get negative ids. The handle's DESTROY
/// releases the id. One client, one table: calls come in order, from one thread at a time.
/// </summary>
public sealed class HandleTable
{
    private readonly Dictionary<long, object> _objects = [];
    private readonly Dictionary<object, long> _ids = new(ReferenceEqualityComparer.Instance);
    private long _nextEngineId;

    public int Count => _objects.Count;

    /// <summary>Registers <paramref name="o"/> under the client's <paramref name="id"/> (replacing whatever had it).</summary>
    public void Put(object? id, object o)
    {
        var key = Key(id);
        if (key == 0)
            throw new ArgumentException($"handle id {id ?? "undef"} is not an id the client allocated");
        Release(key);
        if (_ids.Remove(o, out var old))
            _objects.Remove(old);
        _objects[key] = o;
        _ids[o] = key;
        if (key < _nextEngineId)
            _nextEngineId = key;   // an engine id restored from a snapshot (a forked child's session): new ones go past it
    }

    /// <summary>The object, or null when the id is unknown or of another kind (a one-way call on it is ignored).</summary>
    public T? Find<T>(object? id) where T : class => _objects.TryGetValue(Key(id), out var o) ? o as T : null;

    public T Get<T>(object? id, string what) where T : class =>
        Find<T>(id) ?? throw new SessionCallException($"{what} handle {id ?? "undef"} is not valid (was the object made by Sentry::SDK?)");

    /// <summary>The id the client knows <paramref name="o"/> by, giving it a new engine id when it has none.</summary>
    public long IdOf(object o)
    {
        if (_ids.TryGetValue(o, out var id))
            return id;
        id = --_nextEngineId;
        _objects[id] = o;
        _ids[o] = id;
        return id;
    }

    public void Release(object? id)
    {
        if (_objects.Remove(Key(id), out var o))
            _ids.Remove(o);
    }

    /// <summary>Every (id, object) pair, for a copy of the session.</summary>
    public IEnumerable<KeyValuePair<long, object>> All => _objects;

    private static long Key(object? id) => id switch
    {
        long l => l,
        int i => i,
        double d when d == Math.Floor(d) => (long)d,
        string s when long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var p) => p,
        _ => 0,
    };
}
