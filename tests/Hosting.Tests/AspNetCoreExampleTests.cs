using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Tests.Sentry.Transport;

namespace PerlSentry.Hosting.Tests;

/// <summary>
/// examples/AspNetCore as a service runs it (WebApplicationFactory), sending to a real HTTP server on
/// 127.0.0.1: the handlers' Perl calls answer, and their transactions, profiles and errors arrive.
/// </summary>
[TestFixture]
public sealed class AspNetCoreExampleTests
{
    private static List<(string Type, JObject Payload, JObject Header)> Items(byte[] body)
    {
        var lines = System.Text.Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = JObject.Parse(lines[0]);
        var items = new List<(string, JObject, JObject)>();
        for (var i = 1; i + 1 < lines.Length; i += 2)
            items.Add(((string)JObject.Parse(lines[i])["type"]!, JObject.Parse(lines[i + 1]), header));
        return items;
    }

    [Test]
    public async Task QuotesComeFromPerl_AndEveryCallIsATransactionWithItsProfile_AnErrorAnEvent()
    {
        using var server = new FakeSentryServer();
        var cache = Directory.CreateTempSubdirectory("perlsentry-example-").FullName;
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        try
        {
            var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
                .UseSetting("PerlSentry:Sentry:dsn", server.Dsn())
                .UseSetting("PerlSentry:Sentry:cache_dir", cache));
            await using (factory)
            {
                using var client = factory.CreateClient();
                var quote = JObject.Parse(await client.GetStringAsync("/quote?items=apple,apple,wine"));
                Assert.That(JToken.DeepEquals(quote, JObject.Parse("""{"items":3,"total":10.9}""")), Is.True, quote.ToString());
                using var traced = new HttpRequestMessage(HttpMethod.Get, "/quote?items=bread,cheese");
                traced.Headers.Add("sentry-trace", $"{traceId}-00f067aa0ba902b7-1");
                using var tracedResponse = await client.SendAsync(traced);
                Assert.That(tracedResponse.StatusCode, Is.EqualTo(HttpStatusCode.OK));
                using var bad = await client.GetAsync("/quote?items=apple,caviar");
                Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
                Assert.That(await bad.Content.ReadAsStringAsync(), Does.Contain("no price for 'caviar'"));
                Assert.That(await client.GetStringAsync("/health"), Is.EqualTo("Healthy"));
            }   // the host stops: the pool stops and the SDK flushes

            Assert.That(server.WaitFor(r => r.SelectMany(x => Items(x.Body)).Count(i => i.Type is "transaction" or "event") >= 4, TimeSpan.FromSeconds(20)), Is.True);
            var items = server.Accepted.SelectMany(Items).ToList();
            var transactions = items.Where(i => i.Type == "transaction").ToList();
            Assert.That(transactions, Has.Count.EqualTo(3));
            Assert.That(transactions.Select(t => (string?)t.Payload["transaction"]), Is.All.EqualTo("Pricing::quote"));
            Assert.That(transactions.Select(t => (string?)t.Payload["release"]), Is.All.EqualTo("pricing-example@1"), "from appsettings.json");
            Assert.That(transactions.Count(t => (string?)t.Payload["contexts"]!["trace"]!["trace_id"] == traceId), Is.EqualTo(1), "the front end's trace continued");
            Assert.That(transactions.Select(t => (string?)t.Header["trace"]?["public_key"]), Is.All.EqualTo("publickey"), "each envelope carries its DSC");
            var failed = transactions.Single(t => (string?)t.Payload["contexts"]!["trace"]!["status"] == "internal_error");
            var evt = items.Single(i => i.Type == "event").Payload;
            Assert.That((string?)evt["exception"]!["values"]![0]!["value"], Is.EqualTo("no price for 'caviar'"));
            Assert.That((string?)evt["contexts"]!["trace"]!["trace_id"], Is.EqualTo((string?)failed.Payload["contexts"]!["trace"]!["trace_id"]));
            var frames = ((JArray)evt["exception"]!["values"]![0]!["stacktrace"]!["frames"]!).Select(f => (string?)f["function"]).ToList();
            Assert.That(frames, Does.Contain("Pricing::quote"), "the Perl frames");
            // Quotes are quick: a profile needs two samples, so one may or may not come; any that does is the call's.
            foreach (var profile in items.Where(i => i.Type == "profile").Select(i => i.Payload))
                Assert.That(transactions.Select(t => (string?)t.Payload["event_id"]), Does.Contain((string?)profile["transaction"]!["id"]));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }
}
