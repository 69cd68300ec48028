using System.Buffers;
using System.Security.Cryptography;

namespace PerlSentry.Engine.Sentry;

/// <summary>Sentry's id shapes: event and trace ids are 32 lowercase hex, span ids 16.</summary>
public static class SentryIds
{
    // Ids need to be unique and unguessable, not secret: each thread draws them from its own buffer of
    // system randomness, refilled 4 KiB at a time (one getrandom per 256 event ids, not one per id).
    [ThreadStatic] private static byte[]? t_pool;
    [ThreadStatic] private static int t_used;

    public static string NewEventId() => Hex(16);

    public static string NewTraceId() => Hex(16);

    public static string NewSpanId() => Hex(8);

    private static string Hex(int bytes)
    {
        var pool = t_pool ??= new byte[4096];
        if (t_used == 0 || t_used + bytes > pool.Length)
        {
            if (!Posix.FillRandom(pool))
                RandomNumberGenerator.Fill(pool);
            t_used = 0;
        }
        var id = Convert.ToHexStringLower(pool, t_used, bytes);
        t_used += bytes;
        return id;
    }

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    /// <summary>Whether <paramref name="s"/> is <paramref name="length"/> lowercase hex digits, not all zero (Sentry refuses an all-zero id).</summary>
    public static bool IsHex(string? s, int length) =>
        s is not null && s.Length == length && !s.AsSpan().ContainsAnyExcept(LowerHex) && s.AsSpan().ContainsAnyExcept('0');
}
