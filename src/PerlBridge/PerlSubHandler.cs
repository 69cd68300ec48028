namespace PerlSentry.PerlBridge;

/// <summary>A C# sub callable from Perl.</summary>
public delegate void PerlSubHandler(ref PerlCall call);
