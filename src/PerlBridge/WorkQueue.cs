namespace PerlSentry.PerlBridge;

/// <summary>
/// The work an interpreter's owner thread runs, in order. Unlike <c>BlockingCollection</c> (whose
/// semaphore spins with <c>sched_yield</c> before it sleeps), a waiting owner thread sleeps at once:
/// on a busy machine the spinning took CPU from the other interpreters (8% of a PSGI server's samples).
/// </summary>
internal sealed class WorkQueue
{
    private readonly Queue<Action> _items = new();
    private readonly object _gate = new();   // Monitor.Wait/Pulse need a monitor, not a Lock
    private bool _completed;
    private bool _waiting;

    public bool IsAddingCompleted
    {
        get
        {
            lock (_gate)
                return _completed;
        }
    }

    /// <exception cref="InvalidOperationException">After <see cref="CompleteAdding"/>.</exception>
    public void Add(Action item)
    {
        lock (_gate)
        {
            if (_completed)
                throw new InvalidOperationException("the interpreter takes no more work");
            _items.Enqueue(item);
            if (_waiting)
                Monitor.Pulse(_gate);
        }
    }

    /// <summary>The next item, waiting for one; false once adding is complete and nothing is left.</summary>
    public bool TryTake(out Action item)
    {
        lock (_gate)
        {
            while (_items.Count == 0)
            {
                if (_completed)
                {
                    item = null!;
                    return false;
                }
                _waiting = true;
                Monitor.Wait(_gate);
                _waiting = false;
            }
            item = _items.Dequeue();
            return true;
        }
    }

    public void CompleteAdding()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
