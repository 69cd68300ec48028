namespace PerlSentry.Engine.Sentry;

/// <summary>
/// A parsed DSN, <c>{proto}://{public_key}[:{secret}]@{host}[:port]{path}/{project_id}</c>
/// (spec/sentry-profiles.md §1), and where envelopes for it go.
/// </summary>
public sealed record Dsn(string Scheme, string PublicKey, string? SecretKey, string Host, int Port, string Path, string ProjectId)
{
    /// <summary>The envelope endpoint: <c>{proto}://{host}{path}/api/{project_id}/envelope/</c>.</summary>
    public Uri EnvelopeUri => new($"{Scheme}://{HostAndPort}{Path}/api/{ProjectId}/envelope/");

    private string HostAndPort => Port < 0 ? Host : $"{Host}:{Port}";

    public override string ToString() => $"{Scheme}://{PublicKey}@{HostAndPort}{Path}/{ProjectId}";

    /// <summary>Parses a DSN; the exception message says what is wrong and what a DSN looks like.</summary>
    public static Dsn Parse(string value)
    {
        const string shape = "expected https://<public_key>@<host>/<project_id>";
        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new FormatException($"'{value}' is not a DSN: {shape}");
        if (string.IsNullOrEmpty(uri.UserInfo))
            throw new FormatException($"'{value}' has no public key: {shape}");
        var user = Uri.UnescapeDataString(uri.UserInfo).Split(':', 2);
        if (user[0].Length == 0)
            throw new FormatException($"'{value}' has an empty public key: {shape}");
        var segments = uri.AbsolutePath.TrimEnd('/');
        var cut = segments.LastIndexOf('/');
        var project = cut < 0 ? "" : segments[(cut + 1)..];
        if (project.Length == 0 || !project.All(char.IsAsciiLetterOrDigit))
            throw new FormatException($"'{value}' has no project id at the end of its path: {shape}");
        return new Dsn(uri.Scheme, user[0], user.Length > 1 && user[1].Length > 0 ? user[1] : null,
            uri.Host, uri.IsDefaultPort ? -1 : uri.Port, segments[..cut], project);
    }
}
