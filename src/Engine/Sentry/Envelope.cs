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

    /// <summary>Any items under an envelope header with event_id (transactions and their profile).</summary>
    public static Envelope FromItems(string? eventId, SdkInfo sdk, IReadOnlyList<EnvelopeItem> items)
    {
        var header = SdkHeader(sdk);
        if (eventId is not null)
            header.AddFirst(new JProperty("event_id", eventId));
        return new Envelope(header, items);
    }

    private static JObject SdkHeader(SdkInfo sdk) => new() { ["sdk"] = new JObject { ["name"] = sdk.Name, ["version"] = sdk.Version } };

    /// <summary>The wire form; <paramref name="sentAt"/> becomes the header's one <c>sent_at</c>.</summary>
    public byte[] Serialize(DateTimeOffset sentAt)
    {
        var header = (JObject)Header.DeepClone();
        header["sent_at"] = sentAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        using var ms = new MemoryStream();
        void Line(string s)
        {
            var b = Encoding.UTF8.GetBytes(s);
            ms.Write(b);
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
}
