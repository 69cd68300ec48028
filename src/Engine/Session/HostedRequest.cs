using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Session;

/// <summary>
/// A request's transaction and scope that a .NET host began (<see cref="SessionCalls.StartRequest"/>):
/// the transaction, its scope, and the engine ids Perl knows the transaction and the scope by.
/// </summary>
public sealed record HostedRequest(Transaction Transaction, Scope Scope, long TransactionId, long ScopeId);
