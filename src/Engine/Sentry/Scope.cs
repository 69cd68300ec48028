using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// What is merged into every event captured while the scope is current: tags, extras, user, level,
/// contexts, fingerprint, transaction name, the active span, breadcrumbs and event processors.
/// The event's own values win over the scope's, key by key.
/// </summary>
public sealed class Scope
{
    // Written once when added, never changed: a clone (every push_scope, every capture) shares the list.
    private System.Collections.Immutable.ImmutableQueue<JRaw> _breadcrumbs = [];
    private int _breadcrumbCount;
    private readonly List<Func<JObject, JObject?>> _processors = [];

    public Scope(int maxBreadcrumbs = 100) => MaxBreadcrumbs = maxBreadcrumbs;

    public int MaxBreadcrumbs { get; set; }

    public Dictionary<string, string> Tags { get; private set; } = new(StringComparer.Ordinal);

    public JObject Extra { get; private set; } = [];

    public JObject? User { get; set; }

    public string? Level { get; set; }

    public JObject Contexts { get; private set; } = [];

    public List<string> Fingerprint { get; private set; } = [];

    public string? TransactionName { get; set; }

    /// <summary>The span events are attached to (a transaction, or a span of one).</summary>
    public Span? Span { get; set; }

    /// <summary>The trace of events captured while no span is active.</summary>
    public PropagationContext Propagation { get; set; } = PropagationContext.New();

    /// <summary><c>contexts.trace</c> of an event: the active span's, else the propagation context's.</summary>
    public JObject TraceContext() => _fixedTrace is { } t ? (JObject)t.DeepClone() : Span?.TraceContext() ?? Propagation.TraceContext();

    private JObject? _fixedTrace;   // a copy for writing: the span as it was at the capture
    private Transaction? _fixedRoot;  // and its transaction (whose DSC is fixed when it starts)

    /// <summary>
    /// A copy of the scope as it is now, for writing an event on another thread: what the program
    /// changes later (its tags, its active span) is not in it. No event processors (an event that has
    /// any is written on the program's thread). A transaction writes its own trace, not the scope's
    /// (<paramref name="withTrace"/> false: the copy's <see cref="TraceContext"/> is its propagation context's).
    /// </summary>
    public Scope ForWriting(bool withTrace = true)
    {
        var c = Clone();
        c._processors.Clear();
        c._fixedTrace = withTrace ? TraceContext() : null;
        c._fixedRoot = Span?.Root;
        c.Span = null;
        return c;
    }

    /// <summary>The DSC an event's envelope carries: the active transaction's, else the propagation context's.</summary>
    public JObject DynamicSamplingContext(SentryOptions options) =>
        (_fixedTrace is null ? Span?.Root : _fixedRoot) is { } tx ? tx.DynamicSamplingContext(options) : Propagation.DynamicSamplingContext(options);

    public IEnumerable<JObject> Breadcrumbs => _breadcrumbs.Select(b => (JObject)RawJson.Parse(b));

    /// <summary>The breadcrumbs as written when added (oldest first).</summary>
    internal IReadOnlyCollection<JRaw> RawBreadcrumbs => new RawCrumbs(_breadcrumbs, _breadcrumbCount);

    private sealed class RawCrumbs(System.Collections.Immutable.ImmutableQueue<JRaw> items, int count) : IReadOnlyCollection<JRaw>
    {
        public int Count => count;

        public IEnumerator<JRaw> GetEnumerator() => ((IEnumerable<JRaw>)items).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    public void AddBreadcrumb(JObject crumb, double nowSeconds)
    {
        if (MaxBreadcrumbs == 0)
            return;
        crumb["timestamp"] ??= nowSeconds;
        _breadcrumbs = _breadcrumbs.Enqueue(RawJson.From(crumb));
        _breadcrumbCount++;
        while (_breadcrumbCount > MaxBreadcrumbs)
        {
            _breadcrumbs = _breadcrumbs.Dequeue();
            _breadcrumbCount--;
        }
    }

    public void ClearBreadcrumbs()
    {
        _breadcrumbs = [];
        _breadcrumbCount = 0;
    }

    public void AddEventProcessor(Func<JObject, JObject?> processor) => _processors.Add(processor);

    public IReadOnlyList<Func<JObject, JObject?>> EventProcessors => _processors;

    /// <summary>Resets the data, keeping the event processors (as Sentry's unified API says).</summary>
    public void Clear()
    {
        Tags.Clear();
        Extra = [];
        User = null;
        Level = null;
        Contexts = [];
        Fingerprint.Clear();
        TransactionName = null;
        Span = null;
        ClearBreadcrumbs();
    }

    public Scope Clone()
    {
        var c = new Scope(MaxBreadcrumbs)
        {
            Tags = new Dictionary<string, string>(Tags, StringComparer.Ordinal),
            Extra = Extra.HasValues ? (JObject)Extra.DeepClone() : [],
            User = (JObject?)User?.DeepClone(),
            Level = Level,
            Contexts = Contexts.HasValues ? (JObject)Contexts.DeepClone() : [],
            Fingerprint = [.. Fingerprint],
            TransactionName = TransactionName,
            Span = Span,
            Propagation = Propagation,
        };
        c._breadcrumbs = _breadcrumbs;
        c._breadcrumbCount = _breadcrumbCount;
        c._processors.AddRange(_processors);
        return c;
    }

    /// <summary>
    /// Merges the scope into <paramref name="evt"/> and runs the event processors; null when one of
    /// them dropped the event.
    /// </summary>
    public JObject? ApplyTo(JObject evt)
    {
        var isTransaction = (string?)evt["type"] == "transaction";
        if (Tags.Count > 0) MergeObject(evt, "tags", JsonTags.From(Tags));
        MergeObject(evt, "extra", Extra);
        if (User is not null)
            MergeObject(evt, "user", User);
        MergeObject(evt, "contexts", Contexts);
        if (Level is not null && !isTransaction)
            evt["level"] = Level;
        if (TransactionName is not null && !isTransaction)
            evt["transaction"] ??= TransactionName;
        if (!isTransaction && evt["contexts"]?["trace"] is null)
            ((JObject)evt["contexts"]!)["trace"] = TraceContext();
        if (Fingerprint.Count > 0 && evt["fingerprint"] is null)
            evt["fingerprint"] = new JArray(Fingerprint);
        if (_breadcrumbCount > 0 && !isTransaction)
        {
            var crumbs = evt["breadcrumbs"] as JArray ?? evt["breadcrumbs"]?["values"] as JArray ?? [];
            foreach (var b in _breadcrumbs)
                crumbs.Add(b.DeepClone());
            while (crumbs.Count > MaxBreadcrumbs)
                crumbs.RemoveAt(0);
            evt["breadcrumbs"] = new JObject { ["values"] = crumbs };
        }
        if (_processors.Count > 0)
            RawJson.Expand(evt);
        foreach (var p in _processors)
        {
            var next = p(evt);
            if (next is null)
                return null;
            evt = next;
        }
        return evt;
    }

    private static void MergeObject(JObject evt, string key, JObject scopeValues)
    {
        if (!scopeValues.HasValues)
        {
            if (key == "contexts" && evt[key] is null)
                evt[key] = new JObject();
            return;
        }
        if (evt[key] is not JObject target)
        {
            target = [];
            evt[key] = target;
        }
        foreach (var p in scopeValues.Properties())
        {
            if (target[p.Name] is null)
                target[p.Name] = p.Value.DeepClone();
        }
    }
}
