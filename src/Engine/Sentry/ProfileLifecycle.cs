namespace PerlSentry.Engine.Sentry;

/// <summary>When profiling runs (the seed's <c>profile_lifecycle</c>).</summary>
public enum ProfileLifecycle
{
    /// <summary>Transactions are profiled while they run (and, in continuous mode, the profiler runs while a sampled root transaction is active).</summary>
    Trace,

    /// <summary>Only <c>start_profiler</c>/<c>stop_profiler</c> and <c>profile</c> blocks profile.</summary>
    Manual,
}
