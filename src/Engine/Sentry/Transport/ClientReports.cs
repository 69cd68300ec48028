using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// Counts what the SDK drops, by (reason, category), and turns the counts into a
/// <c>client_report</c> item (spec §5). Thread-safe.
/// </summary>
public sealed class ClientReports
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Reason, string Category), long> _pending = [];
    private readonly Dictionary<(string Reason, string Category), long> _total = [];

    public void Record(string reason, string category, long quantity = 1)
    {
        if (quantity <= 0)
            return;
        lock (_gate)
        {
            _pending[(reason, category)] = _pending.GetValueOrDefault((reason, category)) + quantity;
            _total[(reason, category)] = _total.GetValueOrDefault((reason, category)) + quantity;
        }
    }

    /// <summary>Everything recorded since start, sent or not (for stats and tests).</summary>
    public IReadOnlyDictionary<(string Reason, string Category), long> Totals
    {
        get { lock (_gate) return new Dictionary<(string, string), long>(_total); }
    }

    public bool HasPending { get { lock (_gate) return _pending.Count > 0; } }

    /// <summary>Takes the pending counts as a client_report item, or null when there are none.</summary>
    public EnvelopeItem? TakeItem(long nowUnixNs)
    {
        Dictionary<(string Reason, string Category), long> counts;
        lock (_gate)
        {
            if (_pending.Count == 0)
                return null;
            counts = new(_pending);
            _pending.Clear();
        }
        var discarded = new JArray();
        foreach (var ((reason, category), qty) in counts.OrderBy(kv => kv.Key.Reason).ThenBy(kv => kv.Key.Category))
            discarded.Add(new JObject { ["reason"] = reason, ["category"] = category, ["quantity"] = qty });
        var payload = new JObject { ["timestamp"] = Timestamps.ToRfc3339(nowUnixNs), ["discarded_events"] = discarded };
        return new EnvelopeItem("client_report", payload.ToString(Newtonsoft.Json.Formatting.None));
    }

    /// <summary>Puts a report's counts back as pending (its envelope was not delivered).</summary>
    public void Restore(EnvelopeItem report)
    {
        var counts = JObject.Parse(report.Payload)["discarded_events"] as JArray ?? [];
        lock (_gate)
        {
            foreach (var d in counts)
            {
                var key = ((string)d["reason"]!, (string)d["category"]!);
                _pending[key] = _pending.GetValueOrDefault(key) + (long)d["quantity"]!;
            }
        }
    }
}
