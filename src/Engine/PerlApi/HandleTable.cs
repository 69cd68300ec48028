namespace PerlSentry.Engine.PerlApi;

/// <summary>
/// Engine objects that Perl holds: each Perl handle object carries an integer id; its DESTROY
/// releases it. Only the interpreter's thread uses a table.
/// </summary>
internal sealed class HandleTable
{
    private readonly Dictionary<long, object> _objects = [];
    private readonly Dictionary<object, long> _ids = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<long, int> _holders = [];
    private long _next;

    /// <summary>
    /// The object's id for one more Perl holder; the same object always gets the same id while
    /// it is held, and goes when every holder has released it.
    /// </summary>
    public long Add(object o)
    {
        if (!_ids.TryGetValue(o, out var id))
        {
            id = ++_next;
            _objects[id] = o;
            _ids[o] = id;
        }
        _holders[id] = _holders.GetValueOrDefault(id) + 1;
        return id;
    }

    public T Get<T>(object? id, string what) where T : class
    {
        var key = id switch
        {
            long l => l,
            double d => (long)d,
            string s when long.TryParse(s, out var p) => p,
            _ => 0,
        };
        return _objects.TryGetValue(key, out var o) && o is T t
            ? t
            : throw new PerlBridge.PerlException($"{what} handle {id ?? "undef"} is not valid (was the object made by Sentry::SDK?)\n");
    }

    public void Release(object? id)
    {
        if (id is not long l || !_holders.TryGetValue(l, out var n))
            return;
        if (n > 1)
        {
            _holders[l] = n - 1;
            return;
        }
        _holders.Remove(l);
        if (_objects.Remove(l, out var o))
            _ids.Remove(o);
    }

    public int Count => _objects.Count;
}
