namespace PerlSentry.PerlBridge;

/// <summary>One frame of a sampled Perl stack: the sub executing and the line executing in it.</summary>
public readonly record struct PerlFrame(string Name, string File, int Line);
