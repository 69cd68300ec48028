using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Agent;

/// <summary>A code reference that stays in a client's interpreter: calling it asks the client, on its connection, to run it.</summary>
internal sealed class RemoteRef(AgentConnection connection, long token, PerlRefKind kind, string? className) : IPerlRef
{
    public long Token { get; } = token;

    public PerlRefKind Kind { get; } = kind;

    public string? ClassName { get; } = className;

    public object? Call(params object?[] args) =>
        Kind == PerlRefKind.Code && Token != 0 ? connection.RunCallback(Token, args) : throw new InvalidOperationException("not a code reference of the client");

    public object? Deref() => null;   // the client sends booleans as booleans; other scalar refs stay there
}
