using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PerlSentry.Cli.Tests;

/// <summary>
/// <c>perl-sentry serve</c>: a PSGI server on Kestrel over a pool of interpreters, checked with
/// Plack's own server suite and with real requests whose envelopes reach a Sentry stand-in.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class ServeTests
{
    private const string SuiteApp = """
        use Plack::Test::Suite;
        use Plack::Middleware::Lint;
        Plack::Middleware::Lint->wrap(Plack::Test::Suite->test_app_handler);
        """;

    private const string SuiteRunner = """
        use strict; use warnings; use Test::More;
        use Plack::Test::Suite;
        my ($cli, $app, @more) = @ARGV;
        Plack::Test::Suite->run_server_tests(sub {
            my ($port) = @_;
            exec $cli, 'serve', '--workers', 2, @more, '--listen', "127.0.0.1:$port", $app or die "exec: $!";
        });
        done_testing;
        """;

    private const string App = """
        use strict; use warnings;
        my $app = sub {
            my $env = shift;
            my $p = $env->{PATH_INFO};
            if ($p eq '/hello') { my $x = 0; $x += $_ for 1 .. 20000; return [200, ['Content-Type' => 'text/plain'], ["hello $x"]] }
            die "boom at $p\n" if $p eq '/die';
            if ($p eq '/stream') {
                return sub {
                    my $w = shift->([200, ['Content-Type' => 'text/plain']]);
                    $w->write($_) for qw(a b c);
                    $w->close;
                };
            }
            if ($p eq '/endless') {   # longer than --timeout, unless the client's going away ends it
                return sub {
                    my $w = shift->([200, ['Content-Type' => 'text/plain']]);
                    for (1 .. 500) { $w->write('x' x 4096); select undef, undef, undef, 0.005 }
                    $w->close;
                };
            }
            if ($p eq '/iter') {
                my $n = 0;
                my $body = Plack::Util::inline_object(getline => sub { die "iterator broke\n" if ++$n > 0; 'x' }, close => sub { 1 });
                return [200, ['Content-Type' => 'text/plain'], $body];
            }
            if ($p eq '/loop') { 1 while 1 }
            return 'not a response' if $p eq '/nonpsgi';
            if ($p eq '/echo') {
                my $in = $env->{'psgi.input'}; my $body = ''; my $buf;
                while ($in->read($buf, 1000)) { $body .= $buf }
                return [200, ['Content-Type' => 'application/octet-stream'], [$body]];
            }
            if ($p eq '/bytes') { return [200, ['Content-Type' => 'application/octet-stream'], [join '', map { chr } 0 .. 255]] }
            if ($p eq '/slow') { select undef, undef, undef, 0.8; return [200, [], ['slow done']] }
            return [404, ['Content-Type' => 'text/plain'], ["no $p"]];
        };
        require Plack::Util;
        $app;
        """;

    /// <summary>perl-sentry serve with 2 workers unless <paramref name="more"/> says how many.</summary>
    private static BackgroundProcess Serve(AgentWorld world, string app, int port, params string[] more) =>
        new(Repo.PerlSentry, ["serve", .. more.Contains("--workers") ? Array.Empty<string>() : ["--workers", "2"], "--listen", $"127.0.0.1:{port}", .. more, app],
            world.Dir, world.Env(), Path.Combine(world.Dir, "serve"));

    [TestCase(false, TestName = "PlackServerSuite_All101Pass")]
    [TestCase(true, TestName = "PlackServerSuite_All101Pass_WithTracingAndProfilingEveryRequest")]
    public void PlackServerSuite(bool withSentry)
    {
        using var world = new AgentWorld();
        var app = world.Script("suite.psgi", SuiteApp);
        var runner = world.Script("suite.t", SuiteRunner);
        string[] more = withSentry ? ["--traces-sample-rate", "1", "--profiles-sample-rate", "1"] : ["--no-sentry"];
        var r = ProcessRunner.Run("prove", ["-v", runner, "::", Repo.PerlSentry, app, .. more], world.Dir, env: world.Env(), timeoutMs: 120_000);
        var failing = r.Stdout.Split('\n').Where(l => l.StartsWith("not ok", StringComparison.Ordinal)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(failing, Is.Empty, r.Stdout + r.Stderr);
            Assert.That(r.Stdout, Does.Contain("1..101"), r.Stdout + r.Stderr);
            Assert.That(r.ExitCode, Is.Zero, r.Stdout + r.Stderr);
        });
        if (!withSentry)
            return;
        Assert.That(world.WaitFor("transaction", 30), Is.GreaterThanOrEqualTo(30), "a transaction per request");
        world.AssertAllConform();
    }

    [Test]
    public void Requests_AreTransactionsWithProfiles_ErrorsAreEvents_BadResponsesAre500_AndTheServerKeepsServing()
    {
        using var world = new AgentWorld();
        var app = world.Script("app.psgi", App);
        var port = AgentWorld.FreePort();
        using var server = Serve(world, app, port, "--timeout", "2", "--max-body", "4000", "--traces-sample-rate", "1", "--profiles-sample-rate", "1");
        server.WaitForPort(port);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

        const string traceId = "0123456789abcdef0123456789abcdef";
        using var hello = new HttpRequestMessage(HttpMethod.Get, "/hello");
        hello.Headers.Add("sentry-trace", $"{traceId}-0123456789abcdef-1");
        hello.Headers.Add("baggage", $"sentry-trace_id={traceId},sentry-public_key=publickey,sentry-sample_rate=1");
        using (var r = http.Send(hello))
            Assert.That((r.StatusCode, r.Content.ReadAsStringAsync().Result), Is.EqualTo((HttpStatusCode.OK, "hello 200010000")));

        Assert.That(Get(http, "/die"), Is.EqualTo((500, "Internal Server Error")));
        using (var r = http.GetAsync("/stream").Result)
        {
            Assert.That(r.Content.ReadAsStringAsync().Result, Is.EqualTo("abc"));
            Assert.That(r.Headers.TransferEncodingChunked, Is.True, "a streamed body goes out as written");
        }
        Assert.That(Get(http, "/iter"), Is.EqualTo((500, "Internal Server Error")), "a body that dies at once");
        Assert.That(Get(http, "/nonpsgi"), Is.EqualTo((500, "Internal Server Error")));
        Assert.That(Get(http, "/loop"), Is.EqualTo((500, "Internal Server Error")), "a request that never returns is stopped");
        using (var r = http.GetAsync("/bytes").Result)
            Assert.That(r.Content.ReadAsByteArrayAsync().Result, Is.EqualTo(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray()), () => "bytes, not text; " + File.ReadAllText(server.Stderr));

        var body = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        using (var r = http.PostAsync("/echo", new ByteArrayContent(body)).Result)
            Assert.That(r.Content.ReadAsByteArrayAsync().Result, Is.EqualTo(body), "psgi.input");
        using (var r = http.PostAsync("/echo", new ByteArrayContent(new byte[5000])).Result)
            Assert.That((int)r.StatusCode, Is.EqualTo(413), "a body past --max-body, with Content-Length");
        Assert.That(ChunkedPost(port, "/echo", 5000), Does.StartWith("HTTP/1.1 413"), "a chunked body past --max-body");
        Assert.That(Get(http, "/hello").Status, Is.EqualTo(200), "still serving");
        ReadSomeThenReset(port, "/endless", 8192);
        Assert.That(Get(http, "/hello").Status, Is.EqualTo(200), "still serving after a client went away mid-stream");

        // Graceful stop: a request in flight when TERM arrives is answered, then the server exits 0.
        var slow = http.GetStringAsync("/slow");
        Thread.Sleep(300);
        Assert.That(server.Stop(), Is.Zero, server.Stderr);
        Assert.That(slow.Result, Is.EqualTo("slow done"));

        world.WaitFor("event", 4);
        var items = world.Items();
        var txs = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        var tx = txs.Single(t => (string?)t["transaction"] == "GET /hello" && (string?)t["contexts"]!["trace"]!["trace_id"] == traceId);
        Assert.Multiple(() =>
        {
            Assert.That((string?)tx["contexts"]!["trace"]!["op"], Is.EqualTo("http.server"));
            Assert.That((string?)tx["contexts"]!["trace"]!["parent_span_id"], Is.EqualTo("0123456789abcdef"), "continues the caller's trace");
            Assert.That((string?)tx["contexts"]!["trace"]!["status"], Is.EqualTo("ok"));
            Assert.That((string?)tx["tags"]!["http.status_code"], Is.EqualTo("200"));
            var profile = items.Where(i => i.Type == "profile").Select(i => i.Payload)
                .Single(p => (string?)p["transaction"]!["id"] == (string?)tx["event_id"]);
            Assert.That(profile["profile"]!["samples"]!.Count(), Is.GreaterThanOrEqualTo(2), "the request's profile");
            Assert.That(profile["profile"]!["frames"]!.Select(f => (string?)f["filename"]), Has.None.EqualTo("-e"),
                "its markers are taken in the request's Perl call, not on the idle interpreter (perl -e 0)");
            Assert.That(profile["profile"]!["frames"]!.Select(f => (string?)f["function"]), Has.Some.EqualTo("PerlSentry::PSGI::handle_traced"));
            var threads = (Newtonsoft.Json.Linq.JObject)profile["profile"]!["thread_metadata"]!;
            Assert.That(threads.Properties().Select(t => (string?)t.Value["name"]), Is.All.Match("^perl-pool-[12]$"), "each interpreter is a thread of its own");
            Assert.That(txs.Single(t => (string?)t["transaction"] == "GET /die")["contexts"]!["trace"]!["status"]!.ToString(), Is.EqualTo("internal_error"));
            var messages = items.Where(i => i.Type == "event").Select(i => (string?)i.Payload["exception"]!["values"]![0]!["value"]).ToList();
            Assert.That(messages, Has.Some.EqualTo("boom at /die"));
            Assert.That(messages, Has.Some.EqualTo("iterator broke"));
            Assert.That(messages, Has.Some.Contains("not a PSGI response"));
            Assert.That(messages, Has.Some.Contains("ran longer than 2 s (--timeout)"));
            Assert.That(txs, Has.Some.Matches<Newtonsoft.Json.Linq.JObject>(t => (string?)t["transaction"] == "GET /slow"), "flushed at the stop");
            // The client that went away: its transaction ended there as cancelled, no error event, nothing logged.
            Assert.That((string?)txs.Single(t => (string?)t["transaction"] == "GET /endless")["contexts"]!["trace"]!["status"], Is.EqualTo("cancelled"));
            Assert.That(items.Where(i => i.Type == "event").Select(i => (string?)i.Payload["transaction"]), Has.None.EqualTo("GET /endless"));
            Assert.That(File.ReadAllText(server.Stderr), Does.Not.Contain("/endless"));
        });
        world.AssertAllConform();
    }

    [Test]
    public void PsgixHarakiri_EndsTheInterpreterAfterTheRequest_AFreshOneServesTheNext()
    {
        using var world = new AgentWorld();
        var app = world.Script("harakiri.psgi", """
            our $COUNT = 0;
            sub {
                my $env = shift;
                $env->{'psgix.harakiri.commit'} = 1 if $env->{PATH_INFO} eq '/harakiri' && $env->{'psgix.harakiri'};
                return [200, ['Content-Type' => 'text/plain'], [++$COUNT]];
            };
            """);
        var port = AgentWorld.FreePort();
        using var server = new BackgroundProcess(Repo.PerlSentry, ["serve", "--workers", "1", "--listen", $"127.0.0.1:{port}", app], world.Dir,
            world.Env(), Path.Combine(world.Dir, "serve"));
        server.WaitForPort(port);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Assert.That(new[] { Get(http, "/").Body, Get(http, "/").Body, Get(http, "/harakiri").Body }, Is.EqualTo(new[] { "1", "2", "3" }));
        Assert.That(Get(http, "/").Body, Is.EqualTo("1"), () => "a fresh interpreter: " + File.ReadAllText(server.Stderr));
        Assert.That(server.Stop(), Is.Zero);
    }

    [TestCase("syntax.psgi", "my $app = sub { [200, [], ['x']] ;\n", "syntax error", TestName = "AnAppThatDoesNotCompile_IsRefusedAtStart_WithPerlsMessage")]
    [TestCase("hash.psgi", "+{ not => 'an app' };\n", "does not return a PSGI application", TestName = "AnAppFileThatIsNotAnApp_IsRefusedAtStart")]
    public void BadAppFile(string name, string code, string message)
    {
        using var world = new AgentWorld();
        var app = world.Script(name, code);
        var r = ProcessRunner.Run(Repo.PerlSentry, ["serve", "--listen", $"127.0.0.1:{AgentWorld.FreePort()}", app], world.Dir, env: world.Env(), timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.Stderr);
        Assert.That(r.Stderr, Does.Contain(message).And.Contain(name), r.Stderr);
    }

    [TestCase(new[] { "--workers", "0" }, "--workers must be at least 1")]
    [TestCase(new[] { "--listen", "nowhere" }, "--listen: 'nowhere' is not HOST:PORT")]
    [TestCase(new[] { "--bogus" }, "unknown option '--bogus'")]
    [TestCase(new[] { "--traces-sample-rate", "3" }, "--traces-sample-rate must be between 0 and 1")]
    public void BadOptions_AreRefused_NamingTheOption(string[] args, string message)
    {
        using var world = new AgentWorld();
        var app = world.Script("app.psgi", App);
        var r = ProcessRunner.Run(Repo.PerlSentry, ["serve", .. args, app], world.Dir, env: world.Env(), timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.Stderr, Does.StartWith("perl-sentry serve: " + message).And.Contain("perl-sentry serve --help"));
    }

    [Test]
    public void Help_NamesTheCommandAsTyped()
    {
        var r = ProcessRunner.Run(Repo.PerlSentry, ["serve", "--help"], Path.GetTempPath(), timeoutMs: 60_000);
        Assert.That(r.ExitCode, Is.Zero);
        Assert.That(r.Stdout, Does.Contain("perl-sentry serve <app.psgi> [options]").And.Contain("--workers"));
    }

    [Test]
    public void AMojoliciousApp_ThroughItsPsgiAdapter()
    {
        using var world = new AgentWorld();
        var app = world.Script("mojo.psgi", """
            use Mojolicious::Lite -signatures;
            get '/' => sub ($c) { $c->render(text => 'mojo ' . $c->req->url->path) };
            post '/json' => sub ($c) { $c->render(json => { got => $c->req->json }) };
            app->start;
            """);
        var port = AgentWorld.FreePort();
        using var server = Serve(world, app, port, "--traces-sample-rate", "1");
        server.WaitForPort(port);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Assert.That(Get(http, "/"), Is.EqualTo((200, "mojo /")));
        using (var r = http.PostAsync("/json", new StringContent("{\"a\":[1,2]}", Encoding.UTF8, "application/json")).Result)
            Assert.That(r.Content.ReadAsStringAsync().Result, Is.EqualTo("{\"got\":{\"a\":[1,2]}}"));
        Assert.That(server.Stop(), Is.Zero, server.Stderr);
        Assert.That(world.WaitFor("transaction", 2), Is.EqualTo(2));
        Assert.That(world.Items().Where(i => i.Type == "transaction").Select(i => (string?)i.Payload["transaction"]), Is.EquivalentTo(new[] { "GET /", "POST /json" }));
    }

    [Test]
    public void TheServerBeginsEachTransaction_AnAppThatEnablesTheMiddlewareToo_GetsOne_ScopeChangesStayInTheirRequest()
    {
        using var world = new AgentWorld();
        var app = world.Script("mw.psgi", """
            use strict; use warnings;
            use Plack::Builder;
            use Sentry::SDK;
            my $app = sub {
                my $env = shift;
                if ($env->{PATH_INFO} eq '/tag') {
                    Sentry::SDK->configure_scope(sub { $_[0]->set_tag(route => 'tag') });
                    Sentry::Hub->get_current_hub->push_scope;   # pushed and left: the request's end pops it
                    Sentry::SDK->capture_message('inside ' . ref $env->{'sentry.transaction'});
                }
                return [200, ['Content-Type' => 'text/plain'], ['ok']];
            };
            builder { enable 'Sentry'; $app };
            """);
        var port = AgentWorld.FreePort();
        using var server = Serve(world, app, port, "--workers", "1", "--traces-sample-rate", "1");
        server.WaitForPort(port);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        using (var tagged = new HttpRequestMessage(HttpMethod.Get, "/tag?q=1"))
        {
            tagged.Headers.Add("Cookie", "session=secret");
            tagged.Headers.Add("X-Request-Id", "r-1");
            using var r = http.Send(tagged);
            Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }
        Assert.That(Get(http, "/plain"), Is.EqualTo((200, "ok")));
        Assert.That(server.Stop(), Is.Zero, server.Stderr);
        world.WaitFor("event", 1);
        Assert.That(world.WaitFor("transaction", 2), Is.EqualTo(2));
        var items = world.Items();
        var txs = items.Where(i => i.Type == "transaction").Select(i => i.Payload).ToList();
        var evt = items.Single(i => i.Type == "event").Payload;
        var tagTx = txs.Single(t => (string?)t["transaction"] == "GET /tag");
        Assert.Multiple(() =>
        {
            Assert.That(txs.Select(t => (string?)t["transaction"]), Is.EquivalentTo(new[] { "GET /tag", "GET /plain" }), "one transaction per request");
            Assert.That((string?)evt["message"]!["formatted"], Is.EqualTo("inside Sentry::Tracing::Transaction"));
            Assert.That((string?)evt["transaction"], Is.EqualTo("GET /tag"));
            Assert.That((string?)evt["contexts"]!["trace"]!["trace_id"], Is.EqualTo((string?)tagTx["contexts"]!["trace"]!["trace_id"]));
            Assert.That((string?)evt["tags"]!["route"], Is.EqualTo("tag"));
            var request = evt["contexts"]!["request"]!;
            Assert.That((string?)request["url"], Is.EqualTo($"http://127.0.0.1:{port}/tag"));
            Assert.That((string?)request["query_string"], Is.EqualTo("q=1"));
            Assert.That((string?)request["headers"]!["X_REQUEST_ID"], Is.EqualTo("r-1"));
            Assert.That(request["headers"]!["COOKIE"], Is.Null, "cookies are not sent");
            Assert.That(txs.Single(t => (string?)t["transaction"] == "GET /plain")["tags"]!["route"], Is.Null, "the tag stayed in its request");
        });
        world.AssertAllConform();
    }

    [Test]
    public void TheReadmeExample_ServesItsRoutes_AndEachRequestIsATransaction()
    {
        using var world = new AgentWorld();
        var port = AgentWorld.FreePort();
        using var server = Serve(world, Path.Combine(Repo.Root, "examples", "psgi", "app.psgi"), port, "--traces-sample-rate", "1", "--profiles-sample-rate", "1");
        server.WaitForPort(port);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Assert.That(Get(http, "/orders?over=1900").Body, Does.StartWith("{\"count\":10,"));
        Assert.That(Get(http, "/stream").Body, Is.EqualTo("line 1\nline 2\nline 3\nline 4\nline 5\n"));
        Assert.That(Get(http, "/fail").Status, Is.EqualTo(500));
        Assert.That(server.Stop(), Is.Zero);
        Assert.That(world.WaitFor("transaction", 3), Is.EqualTo(3));
        Assert.That(world.WaitFor("event", 1), Is.EqualTo(1));
        world.AssertAllConform();
    }

    private static (int Status, string Body) Get(HttpClient http, string path)
    {
        using var r = http.GetAsync(path).Result;
        return ((int)r.StatusCode, r.Content.ReadAsStringAsync().Result);
    }

    /// <summary>A GET whose response is read for <paramref name="bytes"/> bytes, then the connection reset (a client that goes away).</summary>
    private static void ReadSomeThenReset(int port, string path, int bytes)
    {
        using var client = new TcpClient("127.0.0.1", port);
        var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        var buffer = new byte[4096];
        for (var got = 0; got < bytes;)
        {
            var n = stream.Read(buffer);
            if (n == 0)
                break;
            got += n;
        }
        client.LingerState = new LingerOption(true, 0);   // closing sends a reset
    }

    /// <summary>A POST with a chunked body of <paramref name="size"/> bytes (no Content-Length); the status line.</summary>
    private static string ChunkedPost(int port, string path, int size)
    {
        using var client = new TcpClient("127.0.0.1", port);
        using var stream = client.GetStream();
        var head = $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        stream.Write(Encoding.ASCII.GetBytes(head));
        try
        {
            for (var sent = 0; sent < size; sent += 1000)
            {
                stream.Write(Encoding.ASCII.GetBytes("3e8\r\n"));
                stream.Write(new byte[1000]);
                stream.Write("\r\n"u8);
            }
            stream.Write("0\r\n\r\n"u8);
        }
        catch (IOException)
        {
            // the server may answer and close before the whole body is sent
        }
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return reader.ReadLine() ?? "";
    }
}
