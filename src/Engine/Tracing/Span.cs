using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tracing;

/// <summary>A timed operation inside a transaction (spec §6 <c>spans[]</c>).</summary>
public class Span
{
    private protected Span(string traceId, string spanId, string? parentSpanId, bool? sampled, long startNs)
    {
        TraceId = traceId;
        SpanId = spanId;
        ParentSpanId = parentSpanId;
        Sampled = sampled;
        StartNs = startNs;
    }

    internal Span(Transaction transaction, string? parentSpanId, long startNs)
        : this(transaction.TraceId, SentryIds.NewSpanId(), parentSpanId, transaction.Sampled, startNs) => Root = transaction;

    public string TraceId { get; protected set; }

    public string SpanId { get; }

    public string? ParentSpanId { get; protected set; }

    public bool? Sampled { get; protected set; }

    public string? Op { get; set; }

    public string? Description { get; set; }

    public string? Status { get; set; }

    public Dictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);

    private JObject? _data;

    public JObject Data => _data ??= [];

    public long StartNs { get; }

    public long? EndNs { get; private set; }

    public bool IsFinished => EndNs is not null;

    /// <summary>The transaction this span belongs to (a transaction is its own root).</summary>
    public Transaction Root { get; private protected set; } = null!;

    public Span StartChild(string? op, string? description, long nowNs)
    {
        var child = new Span(Root, SpanId, nowNs) { Op = op, Description = description };
        Root.Register(child);
        return child;
    }

    /// <summary>Ends the span; the first call counts.</summary>
    public virtual bool Finish(long nowNs)
    {
        if (EndNs is not null)
            return false;
        EndNs = Math.Max(nowNs, StartNs);
        return true;
    }

    public void SetHttpStatus(int code)
    {
        Tags["http.status_code"] = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Data["http.response.status_code"] = code;
        Status = SpanStatus.FromHttp(code);
    }

    /// <summary>The <c>sentry-trace</c> header value: <c>trace_id-span_id[-sampled]</c>.</summary>
    public string ToTraceParent() => TraceHeaders.FormatTraceParent(TraceId, SpanId, Sampled);

    /// <summary><c>contexts.trace</c> for events captured under this span.</summary>
    public JObject TraceContext()
    {
        var o = new JObject { ["trace_id"] = TraceId, ["span_id"] = SpanId };
        if (ParentSpanId is not null) o["parent_span_id"] = ParentSpanId;
        if (Op is not null) o["op"] = Op;
        if (Description is not null) o["description"] = Description;
        if (Status is not null) o["status"] = Status;
        if (_data is { HasValues: true }) o["data"] = _data.DeepClone();
        return o;
    }

    /// <summary>
    /// Writes <see cref="TraceContext"/> straight to JSON (no tree), with the thread that ran it in its
    /// <c>data</c> (replacing what the span's data says of the thread, where it says it): the same text as
    /// the tree with the thread merged in (<see cref="Transaction.ToEvent"/>).
    /// </summary>
    public void WriteTraceContext(JsonWriter w, string? threadId, string? threadName)
    {
        w.WriteStartObject();
        WriteIdentity(w);
        WriteData(w, threadId, threadName, threadWins: true);
        w.WriteEndObject();
    }

    /// <summary>
    /// Writes the span as it goes in a transaction's <c>spans</c>, straight to JSON (no tree): the thread
    /// that ran the transaction goes in its <c>data</c> unless the span says otherwise.
    /// </summary>
    public void WriteJson(JsonWriter w, string? threadId, string? threadName)
    {
        w.WriteStartObject();
        WriteIdentity(w);
        WriteData(w, threadId, threadName, threadWins: false);
        w.WritePropertyName("start_timestamp");
        w.WriteValue(Timestamps.ToEpochSeconds(StartNs));
        w.WritePropertyName("timestamp");
        w.WriteValue(Timestamps.ToEpochSeconds(EndNs ?? StartNs));
        if (Tags.Count > 0)
        {
            w.WritePropertyName("tags");
            w.WriteStartObject();
            foreach (var (k, v) in Tags)
                Write(w, k, v);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>The ids, op, description and status, as both the trace context and the span list have them.</summary>
    private void WriteIdentity(JsonWriter w)
    {
        Write(w, "trace_id", TraceId);
        Write(w, "span_id", SpanId);
        Write(w, "parent_span_id", ParentSpanId);
        Write(w, "op", Op);
        Write(w, "description", Description);
        Write(w, "status", Status);
    }

    /// <summary>
    /// <c>data</c> with the thread that ran the transaction in it (when given): where the span's own
    /// data names the thread, <paramref name="threadWins"/> says whose value is written in its place.
    /// </summary>
    private void WriteData(JsonWriter w, string? threadId, string? threadName, bool threadWins)
    {
        if (_data is not { HasValues: true } && threadId is null)
            return;
        threadName ??= "main";
        w.WritePropertyName("data");
        w.WriteStartObject();
        if (_data is not null)
        {
            foreach (var p in _data.Properties())
            {
                if (threadWins && threadId is not null && p.Name == "thread.id")
                    Write(w, p.Name, threadId);
                else if (threadWins && threadId is not null && p.Name == "thread.name")
                    Write(w, p.Name, threadName);
                else
                    p.WriteTo(w);
            }
        }
        if (threadId is not null)
        {
            if (_data?["thread.id"] is null) Write(w, "thread.id", threadId);
            if (_data?["thread.name"] is null) Write(w, "thread.name", threadName);
        }
        w.WriteEndObject();
    }

    private static void Write(JsonWriter w, string name, string? value)
    {
        if (value is null)
            return;
        w.WritePropertyName(name);
        w.WriteValue(value);
    }
}
