using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;
using PerlSentry.Hosting;
using PerlSentry.PerlBridge;

namespace PerlSentry.Hosting.Tests;

/// <summary>The pool in a .NET service: settings from configuration, started and stopped with the host, a health check.</summary>
[TestFixture]
public sealed class AddPerlSentryTests
{
    private string _dir = null!;
    private string _app = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("perlsentry-di-").FullName;
        _app = Path.Combine(_dir, "app.pl");
        File.WriteAllText(_app, "package Billing; sub total { my $s = 0; $s += $_ for @{ $_[0] }; return $s } 1;\n");
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private readonly List<string> _logged = [];

    private IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ListLogger(_logged));
        builder.Services.AddPerlSentry(builder.Configuration.GetSection("PerlSentry"));
        return builder.Build();
    }

    /// <summary>Keeps what is logged, for assertions.</summary>
    private sealed class ListLogger(List<string> into) : Microsoft.Extensions.Logging.ILoggerProvider, Microsoft.Extensions.Logging.ILogger
    {
        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (into) into.Add($"{logLevel}: {formatter(state, exception)}");
        }
        public void Dispose() { }
    }

    [Test]
    public async Task TheService_CallsPerl_ThroughThePoolItsSettingsDescribe_AndTheHostStopsIt()
    {
        using var host = Build(new()
        {
            ["PerlSentry:Interpreters"] = "2",
            ["PerlSentry:AppFile"] = _app,
            ["PerlSentry:CallTimeout"] = "00:00:05",
            ["PerlSentry:Sentry:envelope_dir"] = Path.Combine(_dir, "out"),
            ["PerlSentry:Sentry:traces_sample_rate"] = "1.0",
            ["PerlSentry:Sentry:release"] = "billing@2",
            ["PerlSentry:Sentry:debug"] = "1",
        });
        var pool = host.Services.GetRequiredService<IPerlPool>();
        var early = pool.InvokeAsync("Billing::total", [new object?[] { 1L, 2L }]);   // before the start: waits for it
        await host.StartAsync();
        Assert.That(await early, Is.EqualTo(3L));
        Assert.That(await pool.InvokeAsync("Billing::total", [new object?[] { 40L, 2L }]), Is.EqualTo(42L));
        Assert.That(pool.Size, Is.EqualTo(2));
        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.That(health.Status, Is.EqualTo(HealthStatus.Healthy), health.Entries["perl"].Description);
        await host.StopAsync();
        health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.That(health.Status, Is.EqualTo(HealthStatus.Unhealthy));
        var releases = Directory.GetFiles(Path.Combine(_dir, "out"), "*.envelope")
            .SelectMany(f => File.ReadAllText(f).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2).Where((_, i) => i % 2 == 0))
            .Select(JObject.Parse).Where(p => (string?)p["type"] == "transaction").Select(p => (string?)p["release"]).ToList();
        Assert.That(releases, Has.Count.EqualTo(2).And.All.EqualTo("billing@2"), "flushed when the host stopped");
        lock (_logged)
        {
            Assert.That(_logged, Has.Some.StartsWith("Information: Perl pool started: 2 interpreters"));
            Assert.That(_logged, Has.Some.Contains("[sentry] initialised"), "the SDK's debug output goes to the service's log");
        }
    }

    [Test]
    public void BadSettings_FailTheStart_NamingTheSetting()
    {
        using var badPool = Build(new() { ["PerlSentry:Interpreters"] = "0", ["PerlSentry:AppFile"] = Path.Combine(_dir, "missing.pl") });
        var e = Assert.ThrowsAsync<OptionsValidationException>(() => badPool.StartAsync());
        Assert.That(e!.Message, Does.Contain("PerlSentry:Interpreters").And.Contain("PerlSentry:AppFile"));

        using var badSentry = Build(new() { ["PerlSentry:Interpreters"] = "1", ["PerlSentry:Sentry:traces_sample_rate"] = "2" });
        var perl = Assert.ThrowsAsync<PerlException>(() => badSentry.StartAsync());
        Assert.That(perl!.Message, Does.Contain("traces_sample_rate"));
    }
}
