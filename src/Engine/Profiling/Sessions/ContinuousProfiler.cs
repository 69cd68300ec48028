using PerlSentry.Engine.Profiling.Export;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// Continuous profiling, sample format v2 (spec §3, §4): one session (one <c>profiler_id</c>) from
/// start to stop, sent as a chunk for every 60 s of samples, each with a fresh <c>chunk_id</c>; a
/// chunk with a single sample is counted as <c>insufficient_data</c>. Started and stopped by hand
/// (<c>manual</c>) or by the transactions that run (<c>trace</c>, reference counted). Not thread-safe:
/// its owner (<see cref="HubProfiler"/>) serialises calls.
/// </summary>
internal sealed class ContinuousProfiler(ProfilerContext ctx)
{
    private static readonly long ChunkNs = (long)SentryChunkExporter.ChunkLength.TotalNanoseconds;
    private long _chunkCutNs;
    private int _traceUsers;

    /// <summary>The running session, or null.</summary>
    public ProfileHandle? Session { get; private set; }

    /// <summary>Starts the session if it is not running; returns it.</summary>
    public ProfileHandle Start(string name)
    {
        if (Session is null)
        {
            Session = new ProfileHandle(ProfileKind.Continuous, name, ctx.Sampler.NowNs, SentryIds.NewEventId());
            _chunkCutNs = Session.StartNs;
            ctx.Sampler.Acquire(ctx.Options.SamplingIntervalUs, ctx.Options.MaxStackDepth);
            ctx.Sampler.Mark();
        }
        return Session;
    }

    /// <summary>Stops the session, sending what it holds.</summary>
    public void Stop()
    {
        if (Session is null)
            return;
        ctx.Sampler.Mark();
        ctx.Sampler.Drain();
        ctx.Sampler.Release();
        var now = ctx.Sampler.NowNs;
        FlushChunks(now, final: true);
        Session.EndNs = now;
        Session = null;
        _traceUsers = 0;
    }

    /// <summary>Trace lifecycle: a sampled transaction starts; the session runs while any does.</summary>
    public ProfileHandle Join(string name)
    {
        _traceUsers++;
        return Start(name);
    }

    /// <summary>Trace lifecycle: a transaction that joined has finished.</summary>
    public void Leave()
    {
        if (_traceUsers > 0 && --_traceUsers == 0)
            Stop();
    }

    /// <summary>The chunk being filled now, as it would be sent.</summary>
    public string? Preview(ProfileHandle h)
    {
        var snapshot = ctx.Sampler.Store.Snapshot(Math.Max(h.StartNs, _chunkCutNs), h.EndNs ?? ctx.Sampler.NowNs).WithInApp(ctx.InApp);
        var chunks = SentryChunkExporter.Export(snapshot, new SentryChunkExporter.Context(h.Id, SdkInfo.Default, ctx.Options.Release, ctx.Options.Environment));
        return chunks.Count > 0 ? chunks[^1] : null;
    }

    /// <summary>After a drain: sends every chunk whose 60 s are over.</summary>
    public void Tick(long nowNs) => FlushChunks(nowNs, final: false);

    public IEnumerable<TimeWindow> Windows => Session is null ? [] : [new TimeWindow(_chunkCutNs, long.MaxValue)];

    /// <summary>Sends each finished 60 s window of the session as a chunk; at the end, the rest.</summary>
    private void FlushChunks(long nowNs, bool final)
    {
        if (Session is null)
            return;
        while (_chunkCutNs + ChunkNs <= nowNs || (final && _chunkCutNs <= nowNs))
        {
            var end = Math.Min(_chunkCutNs + ChunkNs, nowNs + 1);
            var snapshot = ctx.Sampler.Store.Snapshot(_chunkCutNs, end - 1);
            _chunkCutNs = end;
            if (snapshot.WrittenSamples >= 2)   // written one sample per tick (and per marker)
            {
                var context = new SentryChunkExporter.Context(Session.Id, SdkInfo.Default, ctx.Options.Release, ctx.Options.Environment);
                foreach (var chunk in SentryChunkExporter.Export(snapshot.WithInApp(ctx.InApp), context))
                    ctx.Send(Envelope.FromProfileChunk(chunk, SdkInfo.Default));
            }
            else if (snapshot.WrittenSamples == 1)
            {
                // Relay refuses a chunk with one sample (not_enough_samples, spec §3).
                ctx.Reports.Record(DiscardReason.InsufficientData, DataCategory.ProfileChunk);
            }
            if (end > nowNs)
                break;
        }
    }
}
