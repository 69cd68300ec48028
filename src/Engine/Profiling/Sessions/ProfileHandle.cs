using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// One profile as the seed's <c>Sentry::Profiling::Profile</c> shows it: a transaction profile
/// (v1, sent with its transaction) or a stretch of the continuous profiler's session (v2 chunks).
/// </summary>
public sealed class ProfileHandle
{
    internal ProfileHandle(ProfileKind kind, string name, long startNs, string id)
    {
        Kind = kind;
        Name = name;
        StartNs = startNs;
        Id = id;
    }

    public ProfileKind Kind { get; }

    public string Name { get; }

    public long StartNs { get; }

    public long? EndNs { get; internal set; }

    /// <summary>The v1 profile's event_id, or the continuous session's profiler_id.</summary>
    public string Id { get; }

    public Transaction? Transaction { get; internal set; }

    public string? TransactionId => Transaction?.EventId;

    public string? TraceId => Transaction?.TraceId;

    /// <summary>The profile as sent (v1 JSON) once it is finished and was worth sending.</summary>
    public string? Payload { get; internal set; }

    /// <summary>Why nothing was sent (e.g. <c>insufficient_data</c>), once finished.</summary>
    public string? DropReason { get; internal set; }

    /// <summary>Past max_profile_duration: later samples are not part of it.</summary>
    internal bool Expired { get; set; }

    public bool IsActive => EndNs is null;
}
