// A minimal API whose handlers call Perl business logic through the interpreter pool.
//   dotnet run --project examples/AspNetCore            (SENTRY_DSN=... to send to Sentry)
//   curl 'http://localhost:5000/quote?items=apple,apple,wine'
using PerlSentry.Hosting;
using PerlSentry.PerlBridge;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddPerlSentry(builder.Configuration.GetSection("PerlSentry"));
var app = builder.Build();

app.MapGet("/quote", async (string items, HttpRequest request, IPerlPool perl, CancellationToken cancel) =>
{
    // The caller's trace (a front end's sentry-trace header) is continued in Perl.
    var trace = request.Headers["sentry-trace"] is { Count: > 0 } header
        ? new PerlTrace(header.ToString(), request.Headers["baggage"].ToString())
        : null;
    try
    {
        object?[] basket = [.. items.Split(',', StringSplitOptions.RemoveEmptyEntries)];
        var quote = await perl.InvokeAsync("Pricing::quote", [basket], trace, cancel);
        return Results.Ok(quote);
    }
    catch (PerlException e)
    {
        return Results.BadRequest(new { error = e.Message });
    }
    catch (TimeoutException e)
    {
        return Results.Problem(e.Message, statusCode: StatusCodes.Status504GatewayTimeout);
    }
});
app.MapHealthChecks("/health");
app.Run();

/// <summary>The example's entry point (public for WebApplicationFactory in the tests).</summary>
public partial class Program;
