namespace PerlSentry.Engine.Profiling.Sessions;

public enum ProfileKind
{
    /// <summary>Sample format v1, item <c>profile</c>, in its transaction's envelope.</summary>
    Transaction,

    /// <summary>Sample format v2, items <c>profile_chunk</c>, one envelope per 60 s chunk.</summary>
    Continuous,
}
