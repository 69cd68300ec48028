using PerlSentry.Engine.PerlApi;
using PerlSentry.Engine.Session;
using PerlSentry.PerlBridge;

namespace PerlSentry.Hosting;

/// <summary>
/// Begins and ends the transactions of what the .NET hosts run on their interpreters, on the
/// interpreter's session (<see cref="SessionCalls.StartRequest"/>): the PSGI server's requests and the
/// calls of a pool with Sentry options. Each begins and ends from inside its Perl call (the C# subs
/// <c>PerlSentry::PSGI::_begin</c>/<c>_end</c>, <c>PerlSentry::Pool::_begin</c>/<c>_end</c>). A failure is
/// the SDK's, never the call's: it is said once, and the call runs untraced.
/// </summary>
internal sealed class RequestTracer(Action<string> warn)
{
    private int _failed;

    /// <summary>The request begun, or null when it could not be; <paramref name="describe"/> gives its context and request context.</summary>
    public HostedRequest? Start(PerlInterpreter perl, Func<(IReadOnlyDictionary<string, object?> Context, object? Request)> describe)
    {
        try
        {
            var (context, request) = describe();
            return SessionCalls.StartRequest(SentryApi.SessionOf(perl), context, request);
        }
        catch (Exception e) when (e is not PerlExitException)
        {
            Fail($"a call could not be traced ({e.Message}); calls go on untraced where this happens");
            return null;
        }
    }

    /// <summary>Ends it: the HTTP status when there is one, else <paramref name="status"/>.</summary>
    public void Finish(PerlInterpreter perl, HostedRequest request, int? httpStatus, string? status = null)
    {
        try
        {
            SessionCalls.FinishRequest(SentryApi.SessionOf(perl), request, httpStatus, status);
        }
        catch (Exception e) when (e is not PerlExitException)
        {
            Fail($"a call's transaction could not be finished ({e.Message})");
        }
    }

    private void Fail(string message)
    {
        if (Interlocked.Exchange(ref _failed, 1) == 0)
            warn("Sentry: " + message);
    }
}
