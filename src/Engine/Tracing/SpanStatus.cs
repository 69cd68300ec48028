namespace PerlSentry.Engine.Tracing;

/// <summary>Sentry's span statuses, and the mapping from HTTP status codes (Sentry's unified tracing API).</summary>
public static class SpanStatus
{
    public static readonly IReadOnlySet<string> All = new HashSet<string>
    {
        "ok", "cancelled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
        "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
        "unimplemented", "internal_error", "unavailable", "data_loss", "unauthenticated",
    };

    public static string FromHttp(int code) => code switch
    {
        < 400 => "ok",
        400 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        409 => "already_exists",
        413 => "failed_precondition",
        429 => "resource_exhausted",
        499 => "cancelled",
        < 500 => "invalid_argument",
        501 => "unimplemented",
        503 => "unavailable",
        504 => "deadline_exceeded",
        _ => "internal_error",
    };
}
