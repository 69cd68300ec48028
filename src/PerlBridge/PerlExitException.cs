namespace PerlSentry.PerlBridge;

/// <summary>
/// Perl code called <c>exit</c>. Perl has already unwound its own stack; the host decides
/// what the status means. Thrown from a C# sub, it makes Perl exit with <see cref="Status"/>.
/// </summary>
public sealed class PerlExitException(int status) : Exception($"perl exited with status {status}")
{
    public int Status { get; } = status;
}
