using System.CommandLine;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PerlSentry.Hosting;
using PerlSentry.PerlBridge;

namespace PerlSentry.Serve;

/// <summary>
/// <c>perl-sentry serve</c>: a PSGI app on Kestrel, over a pool of interpreters. Run by the
/// perl-sentry command with its arguments as they came ("serve", then the command's own).
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        // Help and parse errors name the command as the user typed it (perl-sentry serve), not this host's file.
        var command = Command();
        var parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
            return Refuse(UnknownOption(command, args) is { } unknown ? [$"unknown option '{unknown}'"] : parsed.Errors.Select(e => e.Message));
        return parsed.Invoke(new InvocationConfiguration { Output = new RenamingWriter(Console.Out), Error = new RenamingWriter(Console.Error) });
    }

    /// <summary>The first switch serve does not have (the parser would take it for the app file and blame the file).</summary>
    private static string? UnknownOption(RootCommand root, string[] args)
    {
        var serve = root.Subcommands.Single();
        var known = serve.Options.Concat(root.Options).SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        return args.Skip(1).TakeWhile(a => a != "--").FirstOrDefault(a => a.Length > 1 && a[0] == '-'
            && !known.Contains(a.Split('=')[0]) && !(a.Length > 2 && known.Contains(a[..2])));
    }

    private static int Refuse(IEnumerable<string> problems)
    {
        foreach (var message in problems.Distinct())
            Console.Error.WriteLine($"perl-sentry serve: {message}");
        Console.Error.WriteLine("Try 'perl-sentry serve --help'.");
        return 2;
    }

    private sealed class RenamingWriter(TextWriter inner) : TextWriter
    {
        public override System.Text.Encoding Encoding => inner.Encoding;

        public override void Write(char value) => inner.Write(value);

        public override void Write(string? value) => inner.Write(value?.Replace("perl-sentry-serve", "perl-sentry", StringComparison.Ordinal));

        public override void WriteLine(string? value) => inner.WriteLine(value?.Replace("perl-sentry-serve", "perl-sentry", StringComparison.Ordinal));

        public override void Flush() => inner.Flush();
    }

    internal static RootCommand Command()
    {
        var workers = new Option<int>("--workers", "-w")
        {
            Description = "Interpreters serving requests at once, each on a thread of its own",
            DefaultValueFactory = _ => Environment.ProcessorCount,
            HelpName = "N",
        };
        var listen = new Option<string>("--listen", "-l")
        {
            Description = "Where to take connections: HOST:PORT, :PORT or PORT (all addresses)",
            DefaultValueFactory = _ => "0.0.0.0:5000",
            HelpName = "HOST:PORT",
        };
        var include = new Option<string[]>("-I")
        {
            Description = "Put a directory on @INC, as perl -I (repeatable)",
            HelpName = "dir",
            AllowMultipleArgumentsPerToken = false,
        };
        var modules = new Option<string[]>("-M")
        {
            Description = "Load a module in every interpreter before the app (repeatable)",
            HelpName = "module",
            AllowMultipleArgumentsPerToken = false,
        };
        var maxBody = new Option<long>("--max-body")
        {
            Description = "Largest request body taken, in bytes; a larger one is answered 413",
            DefaultValueFactory = _ => 30_000_000,
            HelpName = "BYTES",
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds a request may run; past it the app is stopped at its next statement and the request answered 500 (0: no limit)",
            DefaultValueFactory = _ => 60,
            HelpName = "SECONDS",
        };
        var accessLog = new Option<bool>("--access-log") { Description = "Write a line per request to stderr (common log format)" };
        var traces = new Option<double?>("--traces-sample-rate")
        {
            Description = "Share of requests traced, 0 to 1 (default: $SENTRY_TRACES_SAMPLE_RATE)",
            HelpName = "RATE",
        };
        var profiles = new Option<double?>("--profiles-sample-rate")
        {
            Description = "Share of traced requests profiled, 0 to 1",
            HelpName = "RATE",
        };
        var noSentry = new Option<bool>("--no-sentry") { Description = "Do not set up the SDK, even with SENTRY_DSN set (the app may still)" };
        var app = new Argument<string>("app.psgi") { Description = "The PSGI app: a file whose last value is the app's code reference" };

        var serve = new Command("serve", "Serve a PSGI app on Kestrel: every request a Sentry transaction with its profile")
        {
            workers, listen, include, modules, maxBody, timeout, accessLog, traces, profiles, noSentry, app,
        };
        serve.SetAction((r, cancel) =>
        {
            var problems = new List<string>();
            if (r.GetValue(workers) < 1)
                problems.Add("--workers must be at least 1");
            if (r.GetValue(maxBody) < 0)
                problems.Add("--max-body cannot be negative");
            if (r.GetValue(timeout) < 0)
                problems.Add("--timeout cannot be negative (0: no limit)");
            if (r.GetValue(traces) is < 0 or > 1)
                problems.Add($"--traces-sample-rate must be between 0 and 1 (was {r.GetValue(traces)})");
            if (r.GetValue(profiles) is < 0 or > 1)
                problems.Add($"--profiles-sample-rate must be between 0 and 1 (was {r.GetValue(profiles)})");
            if (Endpoint(r.GetValue(listen)!) is null)
                problems.Add($"--listen: '{r.GetValue(listen)}' is not HOST:PORT, :PORT or PORT");
            if (r.GetValue(app) is ['-', ..] unknown)
                problems.Add($"unknown option '{unknown}'");
            else if (!File.Exists(r.GetValue(app)))
                problems.Add($"no file {r.GetValue(app)}");
            if (problems.Count > 0)
                return Task.FromResult(Refuse(problems));
            var options = new PsgiOptions
            {
                AppFile = r.GetValue(app)!,
                Workers = r.GetValue(workers),
                RequestTimeout = r.GetValue(timeout) is > 0 and var s ? TimeSpan.FromSeconds(s) : null,
                RequestTimeoutName = "--timeout",
            };
            foreach (var dir in r.GetValue(include) ?? [])
                options.IncludeDirs.Add(Path.GetFullPath(dir));
            foreach (var module in r.GetValue(modules) ?? [])
                options.Modules.Add(module);
            var env = System.Environment.GetEnvironmentVariables();
            var wanted = !r.GetValue(noSentry) && (r.GetValue(traces) is not null || r.GetValue(profiles) is not null
                || env.Contains("SENTRY_DSN") || env.Contains("PERLSENTRY_ENVELOPE_DIR") || env.Contains("SENTRY_SPOTLIGHT"));
            if (wanted)
            {
                options.Sentry = new Dictionary<string, object?>();
                if (r.GetValue(traces) is { } t)
                    options.Sentry["traces_sample_rate"] = t;
                if (r.GetValue(profiles) is { } p)
                    options.Sentry["profiles_sample_rate"] = p;
            }
            return Serve(options, Endpoint(r.GetValue(listen)!)!, r.GetValue(maxBody), r.GetValue(accessLog), cancel);
        });
        return new RootCommand("perl-sentry: run, profile and serve Perl programs with Sentry") { serve };
    }

    /// <summary>HOST:PORT, :PORT or PORT; null when it is none of them.</summary>
    internal static IPEndPoint? Endpoint(string listen)
    {
        var colon = listen.LastIndexOf(':');
        var host = colon < 0 ? "" : listen[..colon].Trim('[', ']');
        var portText = colon < 0 ? listen : listen[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            return null;
        if (host is "" or "*")
            return new IPEndPoint(IPAddress.Any, port);
        if (host == "localhost")
            return new IPEndPoint(IPAddress.Loopback, port);
        return IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : null;
    }

    private static async Task<int> Serve(PsgiOptions options, IPEndPoint endpoint, long maxBody, bool accessLog, CancellationToken cancel)
    {
        // appsettings.json is read but not watched: a watcher on the current directory woke on every
        // file written under it (the envelope journal, when the cache is there) and cost CPU per request.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = System.Environment.CurrentDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.ColorBehavior = Microsoft.Extensions.Logging.Console.LoggerColorBehavior.Disabled;
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("perl-sentry", LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = maxBody;
            k.Listen(endpoint);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        await using var web = builder.Build();
        var log = web.Services.GetRequiredService<ILoggerFactory>().CreateLogger("perl-sentry");

        // As plackup and starman: frameworks look at it (Mojolicious returns its PSGI app when it is set).
        if (string.IsNullOrEmpty(HostProcess.GetNativeEnvironment("PLACK_ENV")))
            HostProcess.SetNativeEnvironment("PLACK_ENV", "deployment");
        PsgiServer server;
        try
        {
            server = PsgiServer.Start(options, log);
        }
        catch (Exception e) when (e is PerlException or ArgumentException or PerlBridgeException or PerlExitException)
        {
            await Console.Error.WriteLineAsync($"perl-sentry serve: {e.Message}").ConfigureAwait(false);
            return 2;
        }
        await using (server.ConfigureAwait(false))
        {
            if (accessLog)
                web.Use(AccessLog);
            web.RunPsgi(server);
            try
            {
                await web.StartAsync(cancel).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync($"perl-sentry serve: cannot listen on {endpoint}: {e.Message}").ConfigureAwait(false);
                return 2;
            }
            log.LogInformation("serving {App} on http://{Endpoint} with {Workers} interpreters", options.AppFile, endpoint, options.Workers);
            await web.WaitForShutdownAsync(cancel).ConfigureAwait(false);
        }
        return 0;
    }

    /// <summary>One line per request on stderr: host - - [time] "METHOD target PROTOCOL" status bytes.</summary>
    private static async Task AccessLog(Microsoft.AspNetCore.Http.HttpContext http, Func<Task> next)
    {
        await next().ConfigureAwait(false);
        var request = http.Request;
        var target = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{http.Connection.RemoteIpAddress} - - [{DateTimeOffset.Now:dd/MMM/yyyy:HH:mm:ss zzz}] \"{request.Method} {target} {request.Protocol}\" {http.Response.StatusCode} {http.Response.ContentLength?.ToString(CultureInfo.InvariantCulture) ?? "-"}")).ConfigureAwait(false);
    }
}
