using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace PerlSentry.Hosting;

/// <summary>
/// The pool's settings as configuration gives them (the <c>PerlSentry</c> section of
/// <c>appsettings.json</c>): the pool's own, and <see cref="Sentry"/> with the names of the Perl SDK's
/// options (<c>dsn</c>, <c>traces_sample_rate</c>, …), passed to <c>Sentry::SDK-&gt;init</c> as they are.
/// </summary>
public sealed class PerlSentryOptions
{
    /// <summary>How many interpreters. Default: the number of processors.</summary>
    public int Interpreters { get; set; } = Environment.ProcessorCount;

    /// <summary>The Perl file every interpreter loads (the subs the service calls).</summary>
    public string? AppFile { get; set; }

    /// <summary>Modules every interpreter loads.</summary>
    public List<string> Modules { get; set; } = [];

    /// <summary>Directories put on <c>@INC</c>.</summary>
    public List<string> IncludeDirs { get; set; } = [];

    /// <summary>How many calls may wait for an interpreter. Default 1,000.</summary>
    public int MaxQueued { get; set; } = 1000;

    /// <summary>How long a call may run (<c>00:00:05</c>); none by default.</summary>
    public TimeSpan? CallTimeout { get; set; }

    /// <summary>The Perl SDK's options; empty: no SDK in the interpreters.</summary>
    public Dictionary<string, string?> Sentry { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// <see cref="AppFile"/> as a full path: a relative one is looked for in the host's content root,
    /// then next to the service's assemblies.
    /// </summary>
    internal string? AppPath(string? contentRoot)
    {
        if (AppFile is not { } app || Path.IsPathRooted(app))
            return AppFile;
        foreach (var dir in new[] { contentRoot, AppContext.BaseDirectory })
        {
            if (dir is not null && File.Exists(Path.Combine(dir, app)))
                return Path.GetFullPath(Path.Combine(dir, app));
        }
        return Path.GetFullPath(app);
    }

    internal PerlPoolOptions ToPool(string? contentRoot)
    {
        var pool = new PerlPoolOptions { Interpreters = Interpreters, AppFile = AppPath(contentRoot), MaxQueued = MaxQueued, CallTimeout = CallTimeout };
        foreach (var m in Modules) pool.Modules.Add(m);
        foreach (var d in IncludeDirs) pool.IncludeDirs.Add(d);
        if (Sentry.Count > 0)
            pool.Sentry = Sentry.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);
        return pool;
    }
}

/// <summary>Checks <see cref="PerlSentryOptions"/> at start, naming the setting that is wrong.</summary>
internal sealed class PerlSentryOptionsValidator(IHostEnvironment? environment = null) : IValidateOptions<PerlSentryOptions>
{
    public ValidateOptionsResult Validate(string? name, PerlSentryOptions o) =>
        PerlPool.Problems(o.ToPool(environment?.ContentRootPath), "PerlSentry:") is { Count: > 0 } errors
            ? ValidateOptionsResult.Fail(errors)
            : ValidateOptionsResult.Success;
}

/// <summary>
/// The pool a service resolves: started with the host (<see cref="PerlPoolService"/>); a call made
/// before that waits for the start.
/// </summary>
internal sealed class HostedPerlPool : IPerlPool
{
    private readonly TaskCompletionSource<PerlPool> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Size => _started.Task.IsCompletedSuccessfully ? _started.Task.Result.Size : 0;

    public PerlPool? Started => _started.Task.IsCompletedSuccessfully ? _started.Task.Result : null;

    internal void Set(PerlPool pool) => _started.TrySetResult(pool);

    internal void Fail(Exception e) => _started.TrySetException(e);

    public Task<object?> InvokeAsync(string sub, object?[] args, CancellationToken cancel = default) => InvokeAsync(sub, args, null, cancel);

    public async Task<object?> InvokeAsync(string sub, object?[] args, PerlTrace? trace, CancellationToken cancel = default)
    {
        var pool = await _started.Task.WaitAsync(cancel).ConfigureAwait(false);
        return await pool.InvokeAsync(sub, args, trace, cancel).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => Started?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>Starts the pool with the host, and stops it (running calls finish, the SDK flushes) with it.</summary>
internal sealed class PerlPoolService(HostedPerlPool pool, IOptions<PerlSentryOptions> options, ILogger<PerlPool> log, IHostEnvironment? environment = null) : IHostedService
{
    private readonly Action<string> _warnings = m => log.LogWarning("{SentryMessage}", m);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;   // validated: a bad setting throws here, named
        // The SDK's warnings and debug output go to the service's log, not to STDERR (the process has one such sink).
        Engine.PerlApi.SentryApi.Warnings = _warnings;
        try
        {
            var started = await Task.Run(() => PerlPool.Start(o.ToPool(environment?.ContentRootPath)), cancellationToken).ConfigureAwait(false);
            pool.Set(started);
            log.LogInformation("Perl pool started: {Interpreters} interpreters, app {AppFile}, Sentry {Sentry}",
                started.Size, o.AppFile ?? "(none)", o.Sentry.Count > 0 ? "on" : "off");
        }
        catch (Exception e)
        {
            pool.Fail(e);
            log.LogError(e, "Perl pool did not start: {Message}", e.Message);
            throw;
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (pool.Started is { } started)
        {
            await started.DisposeAsync().ConfigureAwait(false);
            log.LogInformation("Perl pool stopped ({Replaced} interpreters were replaced while it ran)", started.Replaced);
        }
        if (ReferenceEquals(Engine.PerlApi.SentryApi.Warnings, _warnings))
            Engine.PerlApi.SentryApi.Warnings = null;
    }
}

/// <summary>Healthy while the pool runs; unhealthy before it started or after it stopped.</summary>
internal sealed class PerlPoolHealthCheck(HostedPerlPool pool) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(pool.Started is { IsRunning: true } p
            ? HealthCheckResult.Healthy($"{p.Size} interpreters, {p.Waiting} calls waiting, {p.Replaced} replaced")
            : HealthCheckResult.Unhealthy("the Perl pool is not running"));
}

/// <summary>Registration of the Perl pool in a .NET service.</summary>
public static class PerlSentryServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Perl interpreter pool (<see cref="IPerlPool"/>), started and stopped with the host, its
    /// settings bound from <paramref name="configuration"/> (the <c>PerlSentry</c> section) and checked at
    /// start, and a health check named <c>perl</c>.
    /// </summary>
    public static IServiceCollection AddPerlSentry(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<PerlSentryOptions>().Bind(configuration).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PerlSentryOptions>, PerlSentryOptionsValidator>();
        services.AddSingleton<HostedPerlPool>();
        services.AddSingleton<IPerlPool>(sp => sp.GetRequiredService<HostedPerlPool>());
        services.AddHostedService<PerlPoolService>();
        services.AddHealthChecks().AddCheck<PerlPoolHealthCheck>("perl");
        return services;
    }
}
