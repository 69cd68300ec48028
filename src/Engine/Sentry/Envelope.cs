using System.Globalization;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// A Sentry envelope (spec/sentry-profiles.md §1): a header line, then items, each an item header
/// with the payload's exact UTF-8 byte <c>length</c> and the payload. Items are serialized on their
/// own; <c>sent_at</c> is written only when the envelope is sent (<see cref="Serialize"/>).
/// </summary>
public sealed class Envelope
{
    private Envelope(JObject header, IReadOnlyList<EnvelopeItem> items)
    {
        Header = header;
        Items = items;
    }

    public JObject Header { get; }

    public IReadOnlyList<EnvelopeItem> Items { get; }

    /// <summary>One continuous-profiling chunk: no event_id (Relay does not need one for profile_chunk).</summary>
    public static Envelope FromProfileChunk(string chunkJson, SdkInfo sdk) =>
        new(SdkHeader(sdk), [new EnvelopeItem("profile_chunk", chunkJson, Platform: "perl")]);

    /// <summary>Any items under an envelope header with event_id (events, transactions and their profile) and the trace's DSC.</summary>
    public static Envelope FromItems(string? eventId, SdkInfo sdk, IReadOnlyList<EnvelopeItem> items, JObject? dsc = null)
    {
        var header = SdkHeader(sdk);
        if (eventId is not null)
            header.AddFirst(new JProperty("event_id", eventId));
        // Relay requires trace_id and public_key in the DSC; without a DSN there is no key, so no DSC.
        if (dsc?["trace_id"] is not null && dsc["public_key"] is not null)
            header["trace"] = dsc;
        return new Envelope(header, items);
    }

    private static JObject SdkHeader(SdkInfo sdk) => new() { ["sdk"] = new JObject { ["name"] = sdk.Name, ["version"] = sdk.Version } };

    /// <summary>The wire form; <paramref name="sentAt"/> becomes the header's one <c>sent_at</c>.</summary>
    public byte[] Serialize(DateTimeOffset sentAt) => Write(sentAt);

    /// <summary>The form kept in the disk cache and queue: no <c>sent_at</c> yet.</summary>
    public byte[] SerializeUnsent() => Write(null);

    private byte[] Write(DateTimeOffset? sentAt)
    {
        var header = (JObject)Header.DeepClone();
        header.Remove("sent_at");
        if (sentAt is not null)
            header["sent_at"] = sentAt.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        using var ms = new MemoryStream();
        void Line(string s)
        {
            ms.Write(Encoding.UTF8.GetBytes(s));
            ms.WriteByte((byte)'\n');
        }
        Line(header.ToString(Formatting.None));
        foreach (var item in Items)
        {
            var payload = Encoding.UTF8.GetBytes(item.Payload);
            var h = new JObject { ["type"] = item.Type, ["length"] = payload.Length, ["content_type"] = "application/json" };
            if (item.Platform is not null)
                h["platform"] = item.Platform;
            Line(h.ToString(Formatting.None));
            ms.Write(payload);
            ms.WriteByte((byte)'\n');
        }
        return ms.ToArray();
    }

    /// <summary>Reads an envelope this SDK wrote (items with <c>length</c>); throws <see cref="FormatException"/> otherwise.</summary>
    public static Envelope Parse(ReadOnlySpan<byte> data)
    {
        var settings = new JsonSerializerSettings { DateParseHandling = DateParseHandling.None };
        var pos = 0;
        string NextLine(ReadOnlySpan<byte> d)
        {
            var nl = d[pos..].IndexOf((byte)'\n');
            var end = nl < 0 ? d.Length : pos + nl;
            var s = Encoding.UTF8.GetString(d[pos..end]);
            pos = Math.Min(d.Length, end + 1);
            return s;
        }
        var header = JsonConvert.DeserializeObject<JObject>(NextLine(data), settings)
            ?? throw new FormatException("the envelope header is not a JSON object");
        var items = new List<EnvelopeItem>();
        while (pos < data.Length)
        {
            var line = NextLine(data);
            if (line.Length == 0)
                continue;
            var ih = JsonConvert.DeserializeObject<JObject>(line, settings) ?? throw new FormatException("an item header is not a JSON object");
            var type = (string?)ih["type"] ?? throw new FormatException("an item header has no type");
            string payload;
            if (ih["length"] is { } len)
            {
                var n = (int)len;
                if (pos + n > data.Length)
                    throw new FormatException($"item '{type}' is shorter than its length {n}");
                payload = Encoding.UTF8.GetString(data.Slice(pos, n));
                pos += n;
                if (pos < data.Length && data[pos] == (byte)'\n')
                    pos++;
            }
            else
            {
                payload = NextLine(data);
            }
            items.Add(new EnvelopeItem(type, payload, (string?)ih["platform"]));
        }
        return new Envelope(header, items);
    }
}
