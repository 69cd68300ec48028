namespace PerlSentry.Engine.Sentry;

/// <summary>One envelope item: its type, its JSON payload, and the item-header platform where Relay reads it.</summary>
public sealed record EnvelopeItem(string Type, string Payload, string? Platform = null);
