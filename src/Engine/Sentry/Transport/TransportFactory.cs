namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// Builds the transports the options ask for: Sentry (DSN), an envelope folder, Spotlight. Sentry
/// and the folder are written through the journal in <c>cache_dir</c> (before the capture call
/// returns), unless the cache is off (<c>cache_dir =&gt; ''</c>: memory only).
/// </summary>
public static class TransportFactory
{
    /// <param name="log">Debug logging (the <c>debug</c> option).</param>
    /// <param name="warn">What the user must see once (a cache that cannot be written, a redirect); default: <paramref name="log"/>.</param>
    public static ITransport? Create(SentryOptions options, IClock clock, ClientReports reports, Action<string>? log, Action<string>? warn = null)
    {
        var transports = new List<ITransport>();
        if (options.Dsn is { } dsn)
        {
            var sink = new HttpSink(dsn.EnvelopeUri, HttpSink.AuthHeader(dsn, SdkInfo.Default), SdkInfo.Default,
                new HttpSink.Settings(TimeSpan.FromSeconds(options.HttpTimeout)));
            transports.Add(new BackgroundTransport(sink, Queue(options, sink.Name, warn ?? log), clock, reports: reports,
                sendClientReports: options.SendClientReports, log: log, warn: warn, fallbackCapacity: options.MaxQueueItems));
        }
        if (!string.IsNullOrEmpty(options.EnvelopeDir))
        {
            // Client reports go to the folder only when there is no DSN to carry them.
            var sink = new FolderSink(options.EnvelopeDir);
            transports.Add(new BackgroundTransport(sink, Queue(options, sink.Name, warn ?? log), clock,
                reports: options.Dsn is null ? reports : new ClientReports(), sendClientReports: options.Dsn is null && options.SendClientReports,
                log: log, warn: warn, fallbackCapacity: options.MaxQueueItems, concurrency: 1));
        }
        if (options.Spotlight is { } spotlight)
        {
            var sink = new HttpSink(spotlight, null, SdkInfo.Default, new HttpSink.Settings(TimeSpan.FromSeconds(2), Retries: 0, Gzip: false));
            transports.Add(new BackgroundTransport(sink, new MemoryEnvelopeQueue(options.MaxQueueItems), clock,
                sendClientReports: false, log: log is null ? null : m => log("spotlight: " + m)));
        }
        return transports.Count switch
        {
            0 => null,
            1 => transports[0],
            _ => new FanoutTransport(transports),
        };
    }

    private static IEnvelopeQueue Queue(SentryOptions options, string sinkName, Action<string>? warn)
    {
        if (string.IsNullOrEmpty(options.CacheDir))
            return new MemoryEnvelopeQueue(options.MaxQueueItems);
        try
        {
            PrivateFiles.EnsureDirectory(options.CacheDir);   // the folder the user named is checked too, not only ours in it
            return new EnvelopeJournal(EnvelopeJournal.FolderFor(options.CacheDir, sinkName), options.MaxCacheItems);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warn?.Invoke($"Sentry::SDK: cache_dir {options.CacheDir} is not usable ({e.Message}); envelopes are kept in memory only");
            return new MemoryEnvelopeQueue(options.MaxQueueItems);
        }
    }
}
