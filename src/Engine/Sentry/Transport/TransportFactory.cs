namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>Builds the transports the options ask for: Sentry (DSN), an envelope folder, Spotlight.</summary>
public static class TransportFactory
{
    public static ITransport? Create(SentryOptions options, IClock clock, ClientReports reports, Action<string>? log)
    {
        var transports = new List<ITransport>();
        if (options.Dsn is { } dsn)
        {
            var sink = new HttpSink(dsn.EnvelopeUri, HttpSink.AuthHeader(dsn, SdkInfo.Default), SdkInfo.Default,
                new HttpSink.Settings(TimeSpan.FromSeconds(options.HttpTimeout)));
            transports.Add(new BackgroundTransport(sink, Queue(options, sink.Name, log), clock, reports: reports,
                sendClientReports: options.SendClientReports, log: log));
        }
        if (!string.IsNullOrEmpty(options.EnvelopeDir))
        {
            // Local files: no cache, and client reports only when there is no DSN to carry them.
            transports.Add(new BackgroundTransport(new FolderSink(options.EnvelopeDir), new MemoryEnvelopeQueue(options.MaxQueueItems), clock,
                reports: options.Dsn is null ? reports : new ClientReports(), sendClientReports: options.Dsn is null && options.SendClientReports, log: log));
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

    private static IEnvelopeQueue Queue(SentryOptions options, string sinkName, Action<string>? log)
    {
        if (string.IsNullOrEmpty(options.CacheDir))
            return new MemoryEnvelopeQueue(options.MaxQueueItems);
        try
        {
            return new DiskEnvelopeQueue(DiskEnvelopeQueue.FolderFor(options.CacheDir, sinkName), options.MaxCacheItems);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log?.Invoke($"cache_dir {options.CacheDir} is not usable ({e.Message}); envelopes are kept in memory only");
            return new MemoryEnvelopeQueue(options.MaxQueueItems);
        }
    }
}
