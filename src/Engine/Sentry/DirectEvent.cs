using System.Globalization;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Session;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// Writes an event from the values the program captured straight to JSON, without the tree the
/// client otherwise builds, fills in, merges the scope into and serialises (most of a capture's
/// cost). Only for an event that nothing is to see on the way (no <c>before_send</c>, no event
/// processor) and that brings none of the keys the client and scope fill in (its own tags, contexts,
/// breadcrumbs, …): the common <c>capture_message</c> and <c>capture_exception</c>. Anything else
/// takes the tree. The text is the tree path's, byte for byte (DirectEventTests compares them): the
/// same values, merged by the same rules, written in the same order.
/// </summary>
public static class DirectEvent
{
    // What SentryClient.Prepare and Scope.ApplyTo fill in or merge: an event that has its own takes the tree.
    private static readonly HashSet<string> FilledIn = new(StringComparer.Ordinal)
    {
        "timestamp", "platform", "sdk", "release", "environment", "dist", "server_name", "contexts", "tags", "extra",
        "user", "transaction", "fingerprint", "breadcrumbs", "type", "threads",
    };

    /// <summary>Whether <paramref name="values"/> can be written directly (the tree would read them as this does).</summary>
    public static bool Applies(IDictionary<string, object?> values)
    {
        foreach (var key in values.Keys)
        {
            if (FilledIn.Contains(key))
                return false;
        }
        if (values.TryGetValue("event_id", out var id) && id is not (null or string))
            return false;
        return !values.TryGetValue("exception", out var exception) || FrameNamesAreText(exception);
    }

    /// <summary>Frames to be marked in_app name their module and files with strings (or not at all).</summary>
    private static bool FrameNamesAreText(object? exception)
    {
        if (exception is not IDictionary<string, object?> e || !e.TryGetValue("values", out var values) || values is not IEnumerable<object?> list)
            return true;
        foreach (var v in list.OfType<IDictionary<string, object?>>())
        {
            if (Get(v, "stacktrace") is not IDictionary<string, object?> st || Get(st, "frames") is not IEnumerable<object?> frames)
                continue;
            foreach (var f in frames.OfType<IDictionary<string, object?>>())
            {
                if (f.ContainsKey("in_app"))
                    continue;
                foreach (var key in (string[])["module", "filename", "abs_path"])
                {
                    if (f.TryGetValue(key, out var x) && x is not (null or string))
                        return false;
                }
            }
        }
        return true;
    }

    /// <summary>What the client adds to every event (its options, the default contexts) and the time.</summary>
    public sealed record Client(SentryOptions Options, IReadOnlyDictionary<string, JRaw> DefaultContexts, JRaw Sdk, InAppRules InApp);

    /// <summary>The event's id: the one the values give when it is valid, else a new one.</summary>
    public static string IdOf(IDictionary<string, object?> values) =>
        values.TryGetValue("event_id", out var given) && SentryIds.IsHex(given as string, 32) ? (string)given! : SentryIds.NewEventId();

    /// <summary>
    /// The event's JSON, and its id (the one given when valid, else a new one). <paramref name="values"/>
    /// must satisfy <see cref="Applies"/>.
    /// </summary>
    public static string Write(IDictionary<string, object?> values, Scope? scope, Client client, long nowNs, out string id)
    {
        var o = client.Options;
        id = IdOf(values);
        var text = Text();
        using (var w = new JsonTextWriter(text) { Formatting = Formatting.None })
        {
            w.WriteStartObject();
            // The event's own values, in their order; the event id and the scope's level in their place.
            foreach (var (key, value) in values)
            {
                w.WritePropertyName(key);
                if (key == "event_id")
                    w.WriteValue(id);
                else if (key == "level" && scope?.Level is { } level)
                    w.WriteValue(level);
                else if (key == "exception")
                    WriteException(w, value, client.InApp, client.Options.IncludeSourceContext ? SourceContext.Shared : null);
                else
                    SessionValues.Write(w, value, 1);
            }
            // What SentryClient.Prepare adds, then what Scope.ApplyTo merges, in their order.
            if (!values.ContainsKey("event_id"))
                Property(w, "event_id", id);
            w.WritePropertyName("timestamp");
            w.WriteValue(Timestamps.ToEpochSeconds(nowNs));
            Property(w, "platform", "perl");
            w.WritePropertyName("sdk");
            w.WriteRawValue((string)client.Sdk.Value!);
            if (!values.ContainsKey("level"))
                Property(w, "level", scope?.Level ?? "error");
            Property(w, "release", o.Release);
            Property(w, "environment", o.Environment);
            Property(w, "dist", o.Dist);
            Property(w, "server_name", o.ServerName);
            var contextsFirst = client.DefaultContexts.Count > 0;
            if (contextsFirst)
                WriteContexts(w, scope, client);
            if (scope is not null)
            {
                if (scope.Tags.Count > 0)
                    WriteTags(w, scope.Tags, null);
                WriteScopeObjects(w, scope);
                if (!contextsFirst)
                    WriteContexts(w, scope, client);
                Property(w, "transaction", scope.TransactionName);
                WriteFingerprint(w, scope);
                var crumbs = scope.RawBreadcrumbs;
                if (crumbs.Count > 0)
                {
                    w.WritePropertyName("breadcrumbs");
                    w.WriteStartObject();
                    w.WritePropertyName("values");
                    w.WriteStartArray();
                    foreach (var c in crumbs.Skip(Math.Max(0, crumbs.Count - scope.MaxBreadcrumbs)))
                        w.WriteRawValue((string)c.Value!);
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
            }
            w.WriteEndObject();
        }
        return Done(text);
    }

    /// <summary>
    /// A finished transaction's event, as <see cref="SentryClient.CaptureTransaction"/> makes it through
    /// <see cref="Transaction.ToEvent"/>, <c>Prepare</c> and <see cref="Scope.ApplyTo"/> (no event processor,
    /// no <c>before_send_transaction</c>).
    /// </summary>
    public static string WriteTransaction(Transaction tx, Scope? scope, Client client)
    {
        var o = client.Options;
        var text = Text();
        using (var w = new JsonTextWriter(text) { Formatting = Formatting.None })
        {
            w.WriteStartObject();
            Property(w, "type", "transaction");
            w.WritePropertyName("transaction");
            w.WriteValue(tx.Name);
            w.WritePropertyName("transaction_info");
            w.WriteStartObject();
            w.WritePropertyName("source");
            w.WriteValue(tx.Source);
            w.WriteEndObject();
            w.WritePropertyName("start_timestamp");
            w.WriteValue(Timestamps.ToEpochSeconds(tx.StartNs));
            w.WritePropertyName("timestamp");
            w.WriteValue(Timestamps.ToEpochSeconds(tx.EndNs ?? tx.StartNs));
            WriteTransactionContexts(w, tx, scope, client);
            w.WritePropertyName("spans");
            tx.WriteSpans(w);
            var scopeTags = scope is { Tags.Count: > 0 } ? scope.Tags : null;
            if (tx.Tags.Count > 0)
                WriteTags(w, tx.Tags, scopeTags);
            Property(w, "event_id", tx.EventId);
            Property(w, "platform", "perl");
            w.WritePropertyName("sdk");
            w.WriteRawValue((string)client.Sdk.Value!);
            Property(w, "release", o.Release);
            Property(w, "environment", o.Environment);
            Property(w, "dist", o.Dist);
            Property(w, "server_name", o.ServerName);
            if (scope is not null)
            {
                if (tx.Tags.Count == 0 && scopeTags is not null)
                    WriteTags(w, scopeTags, null);
                WriteScopeObjects(w, scope);
                WriteFingerprint(w, scope);
            }
            w.WriteEndObject();
        }
        return Done(text);
    }

    /// <summary>The transaction's own contexts with its trace, then the defaults and the scope's under other names.</summary>
    private static void WriteTransactionContexts(JsonWriter w, Transaction tx, Scope? scope, Client client)
    {
        w.WritePropertyName("contexts");
        w.WriteStartObject();
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in tx.Contexts.Properties())
        {
            written.Add(p.Name);
            if (p.Name == "trace")
                WriteTrace(w, tx);
            else
                p.WriteTo(w);
        }
        if (written.Add("trace"))
            WriteTrace(w, tx);
        foreach (var (name, value) in client.DefaultContexts)
        {
            if (!written.Add(name))
                continue;
            w.WritePropertyName(name);
            w.WriteRawValue((string)value.Value!);
        }
        if (scope is not null)
        {
            foreach (var p in scope.Contexts.Properties())
            {
                if (written.Add(p.Name))
                    p.WriteTo(w);
            }
        }
        w.WriteEndObject();
    }

    /// <summary><c>contexts.trace</c>: the span's trace context, the thread that ran it in its data (replacing the span's own).</summary>
    private static void WriteTrace(JsonWriter w, Transaction tx)
    {
        w.WritePropertyName("trace");
        tx.WriteTraceContext(w, tx.ThreadId, tx.ThreadName);
    }

    private static void WriteTags(JsonWriter w, Dictionary<string, string> tags, Dictionary<string, string>? more)
    {
        w.WritePropertyName("tags");
        w.WriteStartObject();
        foreach (var (k, v) in tags)
            Property(w, k, v);
        if (more is not null)
        {
            foreach (var (k, v) in more)
            {
                if (!tags.ContainsKey(k))
                    Property(w, k, v);
            }
        }
        w.WriteEndObject();
    }

    /// <summary>The scope's extra and user, where it has any.</summary>
    private static void WriteScopeObjects(JsonWriter w, Scope scope)
    {
        if (scope.Extra.HasValues)
        {
            w.WritePropertyName("extra");
            scope.Extra.WriteTo(w);
        }
        if (scope.User is { HasValues: true } user)
        {
            w.WritePropertyName("user");
            user.WriteTo(w);
        }
    }

    private static void WriteFingerprint(JsonWriter w, Scope scope)
    {
        if (scope.Fingerprint.Count == 0)
            return;
        w.WritePropertyName("fingerprint");
        w.WriteStartArray();
        foreach (var f in scope.Fingerprint)
            w.WriteValue(f);
        w.WriteEndArray();
    }

    /// <summary>The default contexts, then the scope's under other names, then the active span's trace.</summary>
    private static void WriteContexts(JsonWriter w, Scope? scope, Client client)
    {
        w.WritePropertyName("contexts");
        w.WriteStartObject();
        foreach (var (name, value) in client.DefaultContexts)
        {
            w.WritePropertyName(name);
            w.WriteRawValue((string)value.Value!);
        }
        var hasTrace = client.DefaultContexts.ContainsKey("trace");
        if (scope is not null)
        {
            foreach (var p in scope.Contexts.Properties())
            {
                if (client.DefaultContexts.ContainsKey(p.Name))
                    continue;
                p.WriteTo(w);
                hasTrace |= p.Name == "trace";   // even null: the tree finds it there
            }
            if (!hasTrace)
            {
                w.WritePropertyName("trace");
                scope.TraceContext().WriteTo(w);
            }
        }
        w.WriteEndObject();
    }

    /// <summary>The exception as the program gave it, each frame of its stack traces marked in_app unless it says.</summary>
    private static void WriteException(JsonWriter w, object? exception, InAppRules inApp, SourceContext? source)
    {
        if (exception is not IDictionary<string, object?> e)
        {
            SessionValues.Write(w, exception, 1);
            return;
        }
        WriteWithList(w, e, "values", 2, one =>
        {
            w.WriteStartObject();
            foreach (var (k, x) in one)
            {
                w.WritePropertyName(k);
                if (k == "stacktrace" && x is IDictionary<string, object?> st)
                    WriteWithList(w, st, "frames", 5, frame => WriteFrame(w, frame, inApp, source));
                else
                    SessionValues.Write(w, x, 4);
            }
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// An object as given, but for the list under <paramref name="listKey"/>: each element that is an
    /// object is written by <paramref name="writeElement"/>, anything else as given.
    /// </summary>
    private static void WriteWithList(JsonWriter w, IDictionary<string, object?> o, string listKey, int depth,
        Action<IDictionary<string, object?>> writeElement)
    {
        w.WriteStartObject();
        foreach (var (key, value) in o)
        {
            w.WritePropertyName(key);
            if (key != listKey || value is not IEnumerable<object?> list || value is string)
            {
                SessionValues.Write(w, value, depth);
                continue;
            }
            w.WriteStartArray();
            foreach (var v in list)
            {
                if (v is IDictionary<string, object?> element)
                    writeElement(element);
                else
                    SessionValues.Write(w, v, depth + 1);
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    /// <summary>A stack frame as given, with in_app where it says nothing and its source lines where it has none.</summary>
    private static void WriteFrame(JsonWriter w, IDictionary<string, object?> frame, InAppRules inApp, SourceContext? source)
    {
        w.WriteStartObject();
        foreach (var (k, x) in frame)
        {
            w.WritePropertyName(k);
            SessionValues.Write(w, x, 7);
        }
        if (!frame.ContainsKey("in_app"))
        {
            w.WritePropertyName("in_app");
            w.WriteValue(inApp.IsInApp(Get(frame, "module") as string ?? "", Get(frame, "filename") as string ?? "",
                Get(frame, "abs_path") as string));
        }
        if (source is not null && !frame.ContainsKey("context_line") && SessionValues.LineNumber(Get(frame, "lineno")) is { } line)
            source.Write(w, Get(frame, "abs_path") as string, line);
        w.WriteEndObject();
    }

    [ThreadStatic] private static StringBuilder? t_text;

    /// <summary>
    /// A writer into this thread's text buffer, emptied (its room is kept from event to event); a fresh
    /// one where the buffer is in use (a tied value's FETCH that captures while its event is written).
    /// </summary>
    private static StringWriter Text()
    {
        var sb = t_text;
        t_text = null;   // taken: given back by Done
        sb ??= new StringBuilder(2048);
        sb.Clear();
        return new StringWriter(sb, CultureInfo.InvariantCulture);
    }

    private static string Done(StringWriter text)
    {
        var sb = text.GetStringBuilder();
        var s = sb.ToString();
        if (sb.Capacity <= 1 << 20)
            t_text = sb;   // one huge event's room is not kept
        return s;
    }

    private static object? Get(IDictionary<string, object?> d, string key) => d.TryGetValue(key, out var v) ? v : null;

    private static void Property(JsonWriter w, string name, string? value)
    {
        if (value is null)
            return;
        w.WritePropertyName(name);
        w.WriteValue(value);
    }
}
