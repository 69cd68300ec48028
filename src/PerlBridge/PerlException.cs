using System.Text.RegularExpressions;

namespace PerlSentry.PerlBridge;

/// <summary>Perl code died. Carries perl's message, the file and line it names, and the exception object if one was thrown.</summary>
public sealed partial class PerlException : Exception
{
    public PerlException(string perlMessage, PerlRef? value = null)
        : base(perlMessage.TrimEnd('\n'))
    {
        PerlMessage = perlMessage;
        Value = value;
        var m = Location().Match(perlMessage);
        if (m.Success)
        {
            PerlFile = m.Groups[1].Value;
            PerlLine = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary><c>$@</c> as perl formatted it, trailing newline included.</summary>
    public string PerlMessage { get; }

    /// <summary>The file from perl's " at FILE line N." suffix, if the message has one.</summary>
    public string? PerlFile { get; }

    public int? PerlLine { get; }

    /// <summary>The exception object when Perl died with a reference (<c>die $obj</c>).</summary>
    public PerlRef? Value { get; }

    [GeneratedRegex(@" at (.+?) line (\d+)(?:, <[^>]*> (?:line|chunk) \d+)?\.\n?\z", RegexOptions.Singleline)]
    private static partial Regex Location();
}
