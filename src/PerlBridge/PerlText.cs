using System.Text;

namespace PerlSentry.PerlBridge;

/// <summary>How Perl's strings of bytes (not marked as characters) become .NET text.</summary>
public static class PerlText
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>The bytes as UTF-8 when they are valid UTF-8, else as Latin-1 (one byte, one character).</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (Ascii.IsValid(bytes))
            return Encoding.ASCII.GetString(bytes);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.Latin1.GetString(bytes);
        }
    }
}
