using System.Globalization;
using System.Text;
using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// An envelope as bytes, made once at the edge (spec §1): the header line without <c>sent_at</c>, then
/// each item's header and payload. It knows where its items are, so the transport can drop items
/// (rate limits), count them, and add <c>sent_at</c> as it sends, all without parsing payloads again.
/// </summary>
public sealed class SerializedEnvelope
{
    /// <summary>An item's type and where its header line starts and its payload ends (after the newline).</summary>
    public readonly record struct Item(string Type, int Start, int End);

    private SerializedEnvelope(byte[] bytes, int headerEnd, IReadOnlyList<Item> items)
    {
        Bytes = bytes;
        HeaderEnd = headerEnd;
        Items = items;
    }

    /// <summary>The envelope as cached: no <c>sent_at</c>.</summary>
    public byte[] Bytes { get; }

    /// <summary>Where the header line's newline is.</summary>
    public int HeaderEnd { get; }

    public IReadOnlyList<Item> Items { get; }

    public IEnumerable<string> ItemTypes => Items.Select(i => i.Type);

    public static SerializedEnvelope From(Envelope envelope)
    {
        var text = new StringWriter(new StringBuilder(256), CultureInfo.InvariantCulture);
        using (var w = new Newtonsoft.Json.JsonTextWriter(text))
        {
            w.WriteStartObject();
            foreach (var p in envelope.Header.Properties())
            {
                if (p.Name != "sent_at")
                    p.WriteTo(w);
            }
            w.WriteEndObject();
        }
        return Of(text.ToString(), envelope.Items);
    }

    /// <summary>
    /// An event's envelope (or a transaction's), its header written by hand: what <see cref="From"/> makes
    /// of <c>Envelope.FromItems(eventId, sdk, items, dsc)</c>, without the header's tree.
    /// </summary>
    public static SerializedEnvelope OfEvent(string eventId, JRaw sdk, IReadOnlyList<EnvelopeItem> items, JObject? dsc)
    {
        // Ids are hex; the DSC goes only where Relay will take it (trace_id and public_key), as FromItems decides.
        var trace = dsc?["trace_id"] is not null && dsc["public_key"] is not null ? ",\"trace\":" + dsc.ToString(Newtonsoft.Json.Formatting.None) : "";
        return Of("{\"event_id\":\"" + eventId + "\",\"sdk\":" + (string)sdk.Value! + trace + "}", items);
    }

    private static SerializedEnvelope Of(string header, IReadOnlyList<EnvelopeItem> itemList)
    {
        // Sized first, then written once into the one array the envelope keeps.
        var heads = new string[itemList.Count];
        var total = Utf8.GetByteCount(header) + 1;
        for (var i = 0; i < heads.Length; i++)
        {
            var item = itemList[i];
            var length = Utf8.GetByteCount(item.Payload);
            // Types and platforms are this SDK's own names: nothing to escape.
            heads[i] = item.Platform is null
                ? $"{{\"type\":\"{item.Type}\",\"length\":{length},\"content_type\":\"application/json\"}}\n"
                : $"{{\"type\":\"{item.Type}\",\"length\":{length},\"content_type\":\"application/json\",\"platform\":\"{item.Platform}\"}}\n";
            total += heads[i].Length + length + 1;
        }
        var bytes = new byte[total];
        var pos = Utf8.GetBytes(header, bytes);
        var headerEnd = pos;
        bytes[pos++] = (byte)'\n';
        var items = new Item[heads.Length];
        for (var i = 0; i < heads.Length; i++)
        {
            var start = pos;
            pos += Utf8.GetBytes(heads[i], bytes.AsSpan(pos));
            pos += Utf8.GetBytes(itemList[i].Payload, bytes.AsSpan(pos));
            bytes[pos++] = (byte)'\n';
            items[i] = new Item(itemList[i].Type, start, pos);
        }
        return new SerializedEnvelope(bytes, headerEnd, items);
    }

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Reads the layout of envelope bytes (this SDK's, from the cache): item headers only, payloads skipped
    /// by their <c>length</c>. Throws <see cref="FormatException"/> on anything else.
    /// </summary>
    public static SerializedEnvelope Parse(byte[] bytes)
    {
        var headerEnd = Array.IndexOf(bytes, (byte)'\n');
        if (headerEnd < 0 || bytes.Length == 0 || bytes[0] != (byte)'{')
            throw new FormatException("not an envelope: no header line");
        var items = new List<Item>();
        var pos = headerEnd + 1;
        while (pos < bytes.Length)
        {
            var nl = Array.IndexOf(bytes, (byte)'\n', pos);
            if (nl < 0)
                throw new FormatException("an item header has no end");
            if (nl == pos)
            {
                pos++;
                continue;
            }
            JObject h;
            try
            {
                h = JObject.Parse(Encoding.UTF8.GetString(bytes, pos, nl - pos));
            }
            catch (Newtonsoft.Json.JsonException e)
            {
                throw new FormatException("an item header is not JSON: " + e.Message);
            }
            var type = (string?)h["type"] ?? throw new FormatException("an item header has no type");
            var length = (int?)h["length"] ?? throw new FormatException($"item '{type}' has no length");
            var end = nl + 1 + length;
            if (length < 0 || end > bytes.Length)
                throw new FormatException($"item '{type}' is shorter than its length {length}");
            if (end < bytes.Length && bytes[end] == (byte)'\n')
                end++;
            items.Add(new Item(type, pos, end));
            pos = end;
        }
        return new SerializedEnvelope(bytes, headerEnd, items);
    }

    /// <summary>Only the items <paramref name="keep"/> says, as bytes sliced from these (null when none is left).</summary>
    public SerializedEnvelope? Where(Func<Item, bool> keep)
    {
        var kept = Items.Where(keep).ToList();
        if (kept.Count == Items.Count)
            return this;
        if (kept.Count == 0)
            return null;
        using var ms = new MemoryStream();
        ms.Write(Bytes, 0, HeaderEnd + 1);
        var items = new List<Item>(kept.Count);
        foreach (var i in kept)
        {
            var start = (int)ms.Position;
            ms.Write(Bytes, i.Start, i.End - i.Start);
            items.Add(i with { Start = start, End = (int)ms.Position });
        }
        return new SerializedEnvelope(ms.ToArray(), HeaderEnd, items);
    }

    /// <summary>These items and <paramref name="extra"/> (a client report riding along).</summary>
    public SerializedEnvelope With(EnvelopeItem extra)
    {
        var add = From(Envelope.FromItems(null, SdkInfo.Default, [extra]));
        var tail = add.Bytes.AsSpan(add.HeaderEnd + 1);
        var bytes = new byte[Bytes.Length + tail.Length];
        Bytes.CopyTo(bytes, 0);
        tail.CopyTo(bytes.AsSpan(Bytes.Length));
        var items = Items.Append(new Item(extra.Type, Bytes.Length, bytes.Length)).ToList();
        return new SerializedEnvelope(bytes, HeaderEnd, items);
    }

    /// <summary>The bytes to send: the header gets its one <c>sent_at</c>, spliced in; the items are as they are.</summary>
    public byte[] ForSending(DateTimeOffset sentAt)
    {
        var stamp = Encoding.ASCII.GetBytes(",\"sent_at\":\"" + sentAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + "\"");
        var close = Array.LastIndexOf(Bytes, (byte)'}', HeaderEnd);
        var empty = close > 0 && Bytes[..close].AsSpan().TrimEnd((byte)' ').EndsWith("{"u8);
        var insert = empty ? stamp.AsSpan(1) : stamp;
        var result = new byte[Bytes.Length + insert.Length];
        Bytes.AsSpan(0, close).CopyTo(result);
        insert.CopyTo(result.AsSpan(close));
        Bytes.AsSpan(close).CopyTo(result.AsSpan(close + insert.Length));
        return result;
    }
}
