using System.Security.Cryptography;

namespace PerlSentry.Engine.Sentry;

/// <summary>Sentry's id shapes: event and trace ids are 32 lowercase hex, span ids 16.</summary>
public static class SentryIds
{
    public static string NewEventId() => Guid.NewGuid().ToString("N");

    public static string NewTraceId() => Guid.NewGuid().ToString("N");

    public static string NewSpanId()
    {
        Span<byte> b = stackalloc byte[8];
        RandomNumberGenerator.Fill(b);
        return Convert.ToHexStringLower(b);
    }

    public static bool IsHex(string? s, int length) =>
        s is not null && s.Length == length && s.All(char.IsAsciiHexDigitLower) && s.Any(c => c != '0');
}
