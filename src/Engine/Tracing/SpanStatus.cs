namespace PerlSentry.Engine.Tracing;

/// <summary>Sentry's span status for an HTTP status code (Sentry's unified tracing API).</summary>
public static class SpanStatus
{
    public const string Ok = "ok";

    public const string InternalError = "internal_error";

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
