using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// What <c>traces_sampler</c> and <c>profiles_sampler</c> see: <c>transaction_context</c> (name, op, …),
/// <c>parent_sampled</c>, plus whatever the caller passed as custom sampling context.
/// </summary>
public sealed record SamplingContext(JObject Data);
