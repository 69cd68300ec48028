using PerlSentry.Engine.Profiling.Export;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// Continuous profiling, sample format v2 (spec §3, §4): one session (one <c>profiler_id</c>) from
/// start to stop, sent as a chunk for every 60 s of samples, each with a fresh <c>chunk_id</c>; a
/// chunk with a single sample is counted as <c>insufficient_data</c>. Started and stopped by hand
/// (<c>manual</c>) or by the transactions that run (<c>trace</c>, reference counted). In <c>trace</c>
/// the session outlives its last transaction by <see cref="TraceLinger"/>: a transaction that starts
/// within it continues the session, so a server's back-to-back requests make one session cut into
/// 60 s chunks, not a chunk (exported and journaled on the request's thread) per request. Not
/// thread-safe: its owner (<see cref="HubProfiler"/>) serialises calls.
/// </summary>
internal sealed class ContinuousProfiler(ProfilerContext ctx)
{
    private static readonly long ChunkNs = (long)SentryChunkExporter.ChunkLength.TotalNanoseconds;

    /// <summary>How long a trace-lifecycle session goes on after its last transaction (ended at the first drain past it).</summary>
    public static readonly TimeSpan TraceLinger = TimeSpan.FromSeconds(2);

    private long _chunkCutNs;
    private int _traceUsers;
    private long? _idleSinceNs;

    /// <summary>The session, or null; in trace lifecycle also while it lingers after its last transaction.</summary>
    public ProfileHandle? Session { get; private set; }

    /// <summary>The session while it profiles something: not while it only lingers.</summary>
    public ProfileHandle? Live => _idleSinceNs is null ? Session : null;

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
        if (_idleSinceNs is null)
            ctx.Sampler.Mark();   // a lingering session's end was marked when its last transaction left
        End();
    }

    private void End()
    {
        ctx.Sampler.Drain();
        ctx.Sampler.Release();
        var now = ctx.Sampler.NowNs;
        FlushChunks(now, final: true);
        Session!.EndNs = now;
        Session = null;
        _traceUsers = 0;
        _idleSinceNs = null;
    }

    /// <summary>Trace lifecycle: a sampled transaction starts; the session runs while any does (and lingers after).</summary>
    public ProfileHandle Join(string name)
    {
        _traceUsers++;
        if (Session is null)
            return Start(name);
        ctx.Sampler.Mark();   // its start, as a session's start is marked
        _idleSinceNs = null;
        return Session;
    }

    /// <summary>Trace lifecycle: a transaction that joined has finished: its end is marked; the last one's starts the linger.</summary>
    public void Leave()
    {
        if (_traceUsers == 0 || Session is null)
            return;
        ctx.Sampler.Mark();
        if (--_traceUsers == 0)
            _idleSinceNs = ctx.Sampler.NowNs;
    }

    /// <summary>The chunk being filled now, as it would be sent.</summary>
    public string? Preview(ProfileHandle h)
    {
        var snapshot = ctx.Sampler.Store.Snapshot(Math.Max(h.StartNs, _chunkCutNs), h.EndNs ?? ctx.Sampler.NowNs).WithInApp(ctx.InApp);
        var chunks = SentryChunkExporter.Export(snapshot, new SentryChunkExporter.Context(h.Id, SdkInfo.Default, ctx.Options.Release, ctx.Options.Environment));
        return chunks.Count > 0 ? chunks[^1] : null;
    }

    /// <summary>After a drain (any thread): sends every chunk whose 60 s are over; ends a session that lingered <see cref="TraceLinger"/>.</summary>
    public void Tick(long nowNs)
    {
        if (_idleSinceNs is { } idle && nowNs - idle >= (long)TraceLinger.TotalNanoseconds)
            End();   // no marker: this is not the interpreter's thread
        else
            FlushChunks(nowNs, final: false);
    }

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
