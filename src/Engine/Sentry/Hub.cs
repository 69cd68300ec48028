using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// The SDK's entry point (Sentry's unified API): a client and a stack of scopes. Captures events,
/// starts transactions (the sampling decision is made here) and tells the profiler about them.
/// </summary>
public sealed class Hub : IDisposable
{
    private readonly List<Scope> _scopes;
    private readonly Action<string>? _log;
    private bool _closed;

    public Hub(SentryOptions options, ITransport? transport, IClock? clock = null, Action<string>? log = null,
        ClientReports? reports = null, SamplingDecider? decider = null)
    {
        Clock = clock ?? SystemClock.Instance;
        _log = log;
        Decider = decider ?? new SamplingDecider(options, log);
        Client = new SentryClient(options, transport, reports ?? new ClientReports(), Clock, log, Decider);
        _scopes = [new Scope(options.MaxBreadcrumbs)];
    }

    /// <summary>A hub from options alone: the transports they ask for, client reports shared with them.</summary>
    public static Hub Create(SentryOptions options, IClock? clock = null, Action<string>? log = null)
    {
        clock ??= SystemClock.Instance;
        var reports = new ClientReports();
        return new Hub(options, TransportFactory.Create(options, clock, reports, log), clock, log, reports);
    }

    /// <summary>The session's dice: shared with the client (errors) and the profilers.</summary>
    public SamplingDecider Decider { get; }

    public SentryOptions Options => Client.Options;

    public SentryClient Client { get; }

    public IClock Clock { get; }

    public ITransactionProfiler? Profiler { get; set; }

    /// <summary>The thread transactions run on (<c>contexts.trace.data["thread.id"]</c>), set by the front end.</summary>
    public string? ThreadId { get; set; }

    public string? ThreadName { get; set; }

    public string? LastEventId { get; private set; }

    public Scope CurrentScope => _scopes[^1];

    /// <summary>The scope stack, root first.</summary>
    public IReadOnlyList<Scope> Scopes => _scopes;

    public int ScopeDepth => _scopes.Count;

    public Scope PushScope()
    {
        var s = CurrentScope.Clone();
        _scopes.Add(s);
        return s;
    }

    /// <summary>Pops the innermost scope; the root scope stays.</summary>
    public bool PopScope()
    {
        if (_scopes.Count <= 1)
            return false;
        _scopes.RemoveAt(_scopes.Count - 1);
        return true;
    }

    /// <summary>Pops <paramref name="scope"/> and any scope above it, when it is on the stack (not the root).</summary>
    public void PopScope(Scope scope)
    {
        var at = _scopes.LastIndexOf(scope);
        if (at > 0)
            _scopes.RemoveRange(at, _scopes.Count - at);
    }

    public void WithScope(Action<Scope> body)
    {
        var depth = _scopes.Count;
        var scope = PushScope();
        try
        {
            body(scope);
        }
        finally
        {
            while (_scopes.Count > depth)
                PopScope();
        }
    }

    /// <param name="owned">The caller made <paramref name="evt"/> for this call (it may be changed in place).</param>
    public string? CaptureEvent(JObject evt, bool owned = false)
    {
        if (_closed)
            return null;
        var id = Client.CaptureEvent(evt, CurrentScope, owned);
        if (id is not null)
            LastEventId = id;
        return id;
    }

    /// <summary>
    /// Captures an event given as a program's values, without building its JSON tree where nothing is
    /// to see it (<see cref="SentryClient.TryCaptureDirect"/>); false when it must take <see cref="CaptureEvent"/>.
    /// </summary>
    public bool TryCaptureDirect(IDictionary<string, object?> values, Profiling.InAppRules inApp, out string? id)
    {
        id = null;
        if (_closed)
            return true;
        if (!Client.TryCaptureDirect(values, CurrentScope, inApp, out id))
            return false;
        if (id is not null)
            LastEventId = id;
        return true;
    }

    public string? CaptureMessage(string message, string level = "info") =>
        CaptureEvent(new JObject { ["message"] = new JObject { ["formatted"] = message }, ["level"] = level });

    public void AddBreadcrumb(JObject crumb) => CurrentScope.AddBreadcrumb(crumb, Timestamps.ToEpochSeconds(Clock.UnixNs));

    /// <summary>
    /// Starts a transaction. Sampling: an explicit <c>sampled</c>, else <c>traces_sampler</c>, else the
    /// parent's decision, else <c>traces_sample_rate</c>; with none of them tracing is off.
    /// </summary>
    public Transaction StartTransaction(TransactionContext ctx, JObject? customSamplingContext = null)
    {
        var samplingContext = new SamplingContext(() =>
        {
            var sampling = new JObject { ["transaction_context"] = ctx.ToSamplingJson() };
            if (ctx.Parent?.Sampled is { } ps)
                sampling["parent_sampled"] = ps;
            if (customSamplingContext is not null)
                sampling.Merge(customSamplingContext);
            return sampling;
        });
        var (sampled, rate, profiled) = Decider.DecideTransaction(ctx, samplingContext);
        var tx = new Transaction(ctx, sampled, rate, Clock.UnixNs, Options.MaxSpans, FinishTransaction)
        {
            ThreadId = ThreadId,
            ThreadName = ThreadName,
            ProfileDecision = profiled,
        };
        // Without a dsn, envelope_dir or spotlight nothing is sent: the decision still travels in the trace
        // headers, but no profile is taken (a sampler, a stack walk each tick, an export) only to be dropped.
        if (sampled && !_closed && Client.IsEnabled)
            Profiler?.OnTransactionStarted(tx, samplingContext);
        return tx;
    }

    private void FinishTransaction(Transaction tx)
    {
        var profile = Profiler?.OnTransactionFinished(tx);
        if (!tx.IsSampled)
        {
            if (Options.TracingEnabled)
                Client.Reports.Record(DiscardReason.SampleRate, DataCategory.Transaction);
            return;
        }
        if (_closed)
            return;
        if (!Client.IsEnabled)
        {
            _log?.Invoke($"no dsn, envelope_dir or spotlight: transaction {tx.Name} not sent");
            return;   // nothing to send it to: not built (sentry-python's finish does the same)
        }
        Client.CaptureFinished(tx, CurrentScope, profile);
    }

    public bool Flush(TimeSpan timeout) => Client.Flush(timeout);

    /// <summary>Flushes for at most <paramref name="timeout"/>, then stops sending; later captures are ignored.</summary>
    public void Close(TimeSpan timeout)
    {
        if (_closed)
            return;
        _closed = true;
        Client.Close(timeout);
    }

    public void Dispose() => Close(TimeSpan.FromSeconds(Options.ShutdownTimeout));
}
