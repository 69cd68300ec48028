using System.Globalization;
using System.Text;
using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Tests.Sentry;

/// <summary>
/// Checks an envelope against the rules of ../shared/spec/sentry-profiles.md §8 (derived from Relay).
/// Returns the violations, each prefixed with its rule number; empty means Relay would accept it.
/// Rules 16–18 (transaction linking, transport) belong to the SDK's envelopes and are checked where
/// those are written.
/// </summary>
internal static class EnvelopeConformance
{
    private static readonly HashSet<string> FrameKeys = ["function", "name", "module", "filename", "file", "abs_path", "lineno", "line", "colno", "column", "in_app", "instruction_addr", "platform"];

    public static List<string> Check(byte[] envelope)
    {
        var errors = new List<string>();
        var items = new List<(JObject Header, string Payload)>();
        var pos = 0;
        string? Line()
        {
            if (pos >= envelope.Length) return null;
            var nl = Array.IndexOf(envelope, (byte)'\n', pos);
            var end = nl < 0 ? envelope.Length : nl;
            var s = Encoding.UTF8.GetString(envelope, pos, end - pos);
            pos = end + 1;
            return s;
        }
        JObject? header = null;
        try { header = Json(Line() ?? ""); } catch (Exception e) { errors.Add($"1: envelope header is not a JSON object ({e.Message})"); return errors; }
        while (pos < envelope.Length)
        {
            var hl = Line();
            if (hl is null || hl.Length == 0) break;
            JObject ih;
            try { ih = Json(hl); } catch { errors.Add("1: item header is not JSON"); return errors; }
            if (ih["type"]?.Type != JTokenType.String) errors.Add("1: item header without type");
            string payload;
            if (ih["length"] is { } len)
            {
                var n = (int)len;
                if (pos + n > envelope.Length) { errors.Add("1: length runs past the end"); return errors; }
                payload = Encoding.UTF8.GetString(envelope, pos, n);
                pos += n;
                if (pos < envelope.Length && envelope[pos] != '\n') errors.Add("1: payload not followed by LF or EOF (MissingNewline)");
                pos++;
            }
            else
            {
                payload = Line() ?? "";
            }
            items.Add((ih, payload));
        }
        var types = items.Select(i => (string?)i.Header["type"]).ToList();
        if (types.Count(t => t == "profile") > 1) errors.Add("2: more than one profile item");
        if (types.Contains("profile"))
        {
            if (header["event_id"] is null) errors.Add("2: profile without envelope event_id");
            if (types.Count(t => t == "transaction") != 1) errors.Add("2: profile without exactly one transaction");
        }
        CheckEvents(header, items, errors);
        foreach (var (ih, payload) in items)
        {
            var type = (string?)ih["type"];
            if (type is not ("profile" or "profile_chunk")) continue;
            if (Encoding.UTF8.GetByteCount(payload) > 50 << 20) errors.Add("15: profile over 50 MiB");
            JObject p;
            try { p = Json(payload); } catch { errors.Add($"3: {type} payload is not JSON"); continue; }
            if (type == "profile") CheckV1(p, errors); else CheckV2(p, ih, errors);
        }
        return errors;
    }

    private static readonly HashSet<string> Reasons =
    [
        "queue_overflow", "cache_overflow", "ratelimit_backoff", "network_error", "sample_rate", "before_send",
        "event_processor", "send_error", "internal_sdk_error", "insufficient_data", "backpressure",
    ];

    private static readonly HashSet<string> Categories = ["error", "transaction", "profile", "profile_chunk", "span", "default", "internal"];

    /// <summary>Events and transactions (spec §6, rule 16), the DSC header, client reports (rule 18).</summary>
    private static void CheckEvents(JObject header, List<(JObject Header, string Payload)> items, List<string> errors)
    {
        if (header.Properties().Count(p => p.Name == "sent_at") > 1) errors.Add("18: sent_at more than once");
        if (header["trace"] is JObject dsc && (dsc["trace_id"]?.Type != JTokenType.String || dsc["public_key"]?.Type != JTokenType.String))
            errors.Add("1: trace header without trace_id and public_key");
        JObject? transaction = null, profile = null;
        foreach (var (ih, payload) in items)
        {
            var type = (string?)ih["type"];
            if (type is "event" or "transaction")
            {
                if (Encoding.UTF8.GetByteCount(payload) > 1 << 20) errors.Add("15: event over 1 MiB");
                JObject e;
                try { e = Json(payload); } catch { errors.Add($"6: {type} payload is not JSON"); continue; }
                if ((string?)e["event_id"] != (string?)header["event_id"]) errors.Add($"6: {type} event_id differs from the envelope's");
                if (e["sdk"]?["name"]?.Type != JTokenType.String || e["sdk"]?["version"]?.Type != JTokenType.String) errors.Add("16: no sdk.name / sdk.version");
                if ((string?)e["platform"] != "perl") errors.Add("6: platform is not perl");
                if (type == "transaction")
                {
                    transaction = e;
                    if ((string?)e["type"] != "transaction") errors.Add("6: transaction type");
                    var trace = e["contexts"]?["trace"];
                    if (trace is null || !IsHex(trace["trace_id"], 32) || !IsHex(trace["span_id"], 16)) errors.Add("6: contexts.trace ids");
                    if (e["start_timestamp"]?.Type is not (JTokenType.Float or JTokenType.Integer) || (double)e["start_timestamp"]! > (double)e["timestamp"]!)
                        errors.Add("6: start_timestamp after timestamp");
                    if (e["contexts"]?["profile"]?["profile_id"] is not null && e["contexts"]?["profile"]?["profiler_id"] is not null)
                        errors.Add("17: both profile_id and profiler_id");
                    foreach (var span in e["spans"] as JArray ?? [])
                        if (!IsHex(span["span_id"], 16) || (string?)span["trace_id"] != (string?)trace?["trace_id"]) errors.Add("6: span ids");
                }
            }
            else if (type == "profile")
            {
                try { profile = Json(payload); } catch { }
            }
            else if (type == "client_report")
            {
                JObject r;
                try { r = Json(payload); } catch { errors.Add("18: client_report is not JSON"); continue; }
                foreach (var d in r["discarded_events"] as JArray ?? [])
                {
                    if (!Reasons.Contains((string?)d["reason"] ?? "")) errors.Add($"18: client report reason '{d["reason"]}'");
                    if (!Categories.Contains((string?)d["category"] ?? "")) errors.Add($"18: client report category '{d["category"]}'");
                    if (d["quantity"]?.Type != JTokenType.Integer || (long)d["quantity"]! < 1) errors.Add("18: client report quantity");
                }
            }
        }
        if (transaction is not null && profile is not null)
        {
            var ptx = profile["transaction"] as JObject ?? (profile["transactions"] as JArray)?.FirstOrDefault() as JObject;
            if ((string?)ptx?["id"] != (string?)transaction["event_id"]) errors.Add("16: profile transaction.id is not the transaction's event_id");
            if ((string?)ptx?["trace_id"] != (string?)transaction["contexts"]?["trace"]?["trace_id"]) errors.Add("16: profile trace_id differs from contexts.trace.trace_id");
            var thread = transaction["contexts"]?["trace"]?["data"]?["thread.id"];
            if (thread is not null && (string?)thread != (string?)ptx?["active_thread_id"]) errors.Add("16: active_thread_id is not the transaction's thread.id");
        }
    }

    private static bool IsHex(JToken? t, int length) =>
        t?.Type == JTokenType.String && ((string)t!).Length == length && ((string)t!).All(char.IsAsciiHexDigitLower);

    /// <summary>
    /// Rule 17 across envelopes: a transaction linked to a continuous session names a profiler_id
    /// that some chunk carries, and its thread.id is among that chunk's sample thread ids.
    /// </summary>
    public static List<string> CheckSession(IEnumerable<byte[]> envelopes)
    {
        var errors = new List<string>();
        var chunkThreads = new Dictionary<string, HashSet<string>>();
        var linked = new List<JObject>();
        foreach (var env in envelopes)
        {
            errors.AddRange(Check(env));
            foreach (var (type, payload) in Items(env))
            {
                var j = Json(payload);
                if (type == "profile_chunk")
                {
                    var id = (string)j["profiler_id"]!;
                    if (!chunkThreads.TryGetValue(id, out var set)) chunkThreads[id] = set = [];
                    foreach (var s in j["profile"]?["samples"] as JArray ?? []) set.Add((string)s["thread_id"]!);
                }
                else if (type == "transaction" && j["contexts"]?["profile"]?["profiler_id"] is not null)
                {
                    linked.Add(j);
                }
            }
        }
        foreach (var tx in linked)
        {
            var id = (string)tx["contexts"]!["profile"]!["profiler_id"]!;
            if (!chunkThreads.TryGetValue(id, out var threads)) { errors.Add($"17: no chunk carries profiler_id {id}"); continue; }
            if (!threads.Contains((string?)tx["contexts"]?["trace"]?["data"]?["thread.id"] ?? "")) errors.Add("17: thread.id not among the chunk's thread ids");
        }
        return errors;
    }

    /// <summary>The items of an envelope as (type, payload).</summary>
    public static List<(string Type, string Payload)> Items(byte[] envelope)
    {
        var result = new List<(string, string)>();
        var pos = Array.IndexOf(envelope, (byte)'\n') + 1;
        while (pos > 0 && pos < envelope.Length)
        {
            var nl = Array.IndexOf(envelope, (byte)'\n', pos);
            if (nl < 0) break;
            var ih = Json(Encoding.UTF8.GetString(envelope, pos, nl - pos));
            var n = (int)ih["length"]!;
            result.Add(((string)ih["type"]!, Encoding.UTF8.GetString(envelope, nl + 1, n)));
            pos = nl + 1 + n + 1;
        }
        return result;
    }

    /// <summary>Raw JSON types: no conversion of date-looking strings (Relay sees strings).</summary>
    private static JObject Json(string text)
    {
        using var reader = new Newtonsoft.Json.JsonTextReader(new StringReader(text)) { DateParseHandling = Newtonsoft.Json.DateParseHandling.None, FloatParseHandling = Newtonsoft.Json.FloatParseHandling.Double };
        return JObject.Load(reader);
    }

    private static bool IsUuid(JToken? t) => t?.Type == JTokenType.String && Guid.TryParse((string)t!, out var g) && g != Guid.Empty;

    private static bool IsU64(JToken? t) => t?.Type switch
    {
        JTokenType.Integer => (long)t >= 0,
        JTokenType.String => ulong.TryParse((string)t!, NumberStyles.None, CultureInfo.InvariantCulture, out _),
        _ => false,
    };

    private static ulong U64(JToken t) => t.Type == JTokenType.Integer ? (ulong)(long)t : ulong.Parse((string)t!, CultureInfo.InvariantCulture);

    private static void CheckV1(JObject p, List<string> errors)
    {
        if (p["version"]?.Type != JTokenType.String || (string?)p["version"] != "1") errors.Add("3: v1 version must be the string \"1\"");
        if (p["platform"]?.Type != JTokenType.String || ((string?)p["platform"])!.Length == 0) errors.Add("3: platform");
        if (!IsUuid(p["event_id"] ?? p["profile_id"])) errors.Add("4: event_id is not a UUID");
        if (p["timestamp"]?.Type != JTokenType.String || !DateTimeOffset.TryParse((string?)p["timestamp"], CultureInfo.InvariantCulture, DateTimeStyles.None, out _) || !((string)p["timestamp"]!).EndsWith('Z'))
            errors.Add("4: timestamp must be RFC 3339 with an offset");
        if (p["device"]?["architecture"]?.Type != JTokenType.String) errors.Add("4: device.architecture");
        if (p["os"]?["name"]?.Type != JTokenType.String || p["os"]?["version"]?.Type != JTokenType.String) errors.Add("4: os.name / os.version");
        if (p["runtime"] is JObject rt && (rt["name"]?.Type != JTokenType.String || rt["version"]?.Type != JTokenType.String)) errors.Add("4: runtime");
        var tx = p["transaction"] as JObject ?? (p["transactions"] as JArray)?.FirstOrDefault() as JObject;
        if (tx is null) { errors.Add("5: no transaction"); }
        else
        {
            if (!IsUuid(tx["id"]) || !IsUuid(tx["trace_id"])) errors.Add("5: transaction id / trace_id");
            if (string.IsNullOrEmpty((string?)tx["name"])) errors.Add("5: transaction name");
            foreach (var k in new[] { "active_thread_id", "relative_start_ns", "relative_end_ns" })
                if (tx[k] is { } v && !IsU64(v)) errors.Add($"5: {k} is not a u64");
        }
        var samples = CheckBody(p["profile"], errors, v2: false);
        if (samples is null) return;
        ulong prev = 0;
        foreach (var s in samples)
        {
            if (!IsU64(s["elapsed_since_start_ns"])) { errors.Add("6: elapsed_since_start_ns is not a u64"); continue; }
            var e = U64(s["elapsed_since_start_ns"]!);
            if (e < prev) errors.Add("11: samples out of order");
            prev = e;
        }
        if (prev > 30_000_000_000) errors.Add("11: last sample after 30 s");
        if (tx is not null && tx["relative_end_ns"] is { } re && IsU64(re) && U64(re) > 0)
        {
            var start = tx["relative_start_ns"] is { } rs && IsU64(rs) ? U64(rs) : 0;
            if (samples.Any(s => IsU64(s["elapsed_since_start_ns"]) && (U64(s["elapsed_since_start_ns"]!) < start || U64(s["elapsed_since_start_ns"]!) > U64(re))))
                errors.Add("11: samples outside [relative_start_ns, relative_end_ns] would be dropped");
        }
        if (tx?["active_thread_id"] is { } at && !samples.Any(s => s["thread_id"]?.ToString() == at.ToString()))
            errors.Add("13: active_thread_id matches no sample");
    }

    private static void CheckV2(JObject p, JObject itemHeader, List<string> errors)
    {
        if ((string?)p["version"] != "2" || p["version"]?.Type != JTokenType.String) errors.Add("3: v2 version must be the string \"2\"");
        if (!IsUuid(p["chunk_id"]) || !IsUuid(p["profiler_id"])) errors.Add("7: chunk_id / profiler_id");
        if (p["client_sdk"]?["name"]?.Type != JTokenType.String || p["client_sdk"]?["version"]?.Type != JTokenType.String) errors.Add("7: client_sdk");
        if ((string?)itemHeader["platform"] != (string?)p["platform"]) errors.Add("14: item header platform differs from payload platform");
        var samples = CheckBody(p["profile"], errors, v2: true);
        if (samples is null) return;
        var ts = new List<double>();
        foreach (var s in samples)
        {
            if (s["timestamp"]?.Type is not (JTokenType.Float or JTokenType.Integer)) { errors.Add("7: timestamp is not a number"); continue; }
            ts.Add((double)s["timestamp"]!);
            if (s["thread_id"]?.Type != JTokenType.String) errors.Add("7: thread_id must be a JSON string");
        }
        if (ts.Count > 0 && ts.Max() - ts.Min() > 66) errors.Add("12: chunk spans more than 66 s");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (ts.Any(t => t < now - 86400 * 30 || t > now + 3600)) errors.Add("12: implausible timestamps");
    }

    /// <summary>Rules shared by both formats: indexes, frames, thread metadata, enough samples.</summary>
    private static JArray? CheckBody(JToken? profile, List<string> errors, bool v2)
    {
        if (profile is not JObject body || body["samples"] is not JArray samples || body["stacks"] is not JArray stacks || body["frames"] is not JArray frames)
        {
            errors.Add("6: profile.samples/stacks/frames missing");
            return null;
        }
        foreach (var s in samples)
        {
            if (s["stack_id"]?.Type != JTokenType.Integer || (long)s["stack_id"]! < 0 || (long)s["stack_id"]! >= stacks.Count) errors.Add("8: stack_id out of range (malformed_samples)");
            if (!v2 && !IsU64(s["thread_id"])) errors.Add("6: thread_id is not a u64");
        }
        foreach (var st in stacks)
            foreach (var f in (JArray)st)
                if (f.Type != JTokenType.Integer || (long)f < 0 || (long)f >= frames.Count) errors.Add("8: frame index out of range (malformed_stacks)");
        foreach (var f in frames.Cast<JObject>())
        {
            foreach (var prop in f.Properties())
            {
                if (!FrameKeys.Contains(prop.Name)) errors.Add($"9: unknown frame key {prop.Name} (Relay strips it)");
                else if (prop.Name is "lineno" or "line" or "colno" or "column" && (prop.Value.Type != JTokenType.Integer || (long)prop.Value < 0 || (long)prop.Value > uint.MaxValue)) errors.Add($"9: {prop.Name} must be a u32");
                else if (prop.Name == "in_app" && prop.Value.Type != JTokenType.Boolean) errors.Add("9: in_app must be a bool");
                else if (prop.Name is "function" or "module" or "filename" or "abs_path" or "platform" && prop.Value.Type != JTokenType.String) errors.Add($"9: {prop.Name} must be a string");
            }
            if (f["in_app"] is null) errors.Add("9: in_app missing");
        }
        var perThread = samples.GroupBy(s => s["thread_id"]?.ToString()).ToDictionary(g => g.Key ?? "", g => g.Count(s => ((JArray?)stacks.ElementAtOrDefault((int?)s["stack_id"] ?? -1))?.Count > 0));
        if (!perThread.Values.Any(n => n >= 2)) errors.Add("10: no thread with 2 or more non-idle samples (not_enough_samples)");
        if (body["thread_metadata"] is JObject tm)
            foreach (var k in tm.Properties().Select(p => p.Name))
                if (!perThread.ContainsKey(k)) errors.Add($"13: thread_metadata key {k} matches no sample thread_id");
        return samples;
    }
}
