namespace PerlSentry.PerlBridge;

/// <summary>What a <see cref="PerlRef"/> points to (pb_api.h PB_REF_*).</summary>
public enum PerlRefKind
{
    Scalar = 0,
    Array = 1,
    Hash = 2,
    Code = 3,
    Glob = 4,
    Other = 5,
}
