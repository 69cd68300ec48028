using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// What <c>traces_sampler</c> and <c>profiles_sampler</c> see: <c>transaction_context</c> (name, op, …),
/// <c>parent_sampled</c>, plus whatever the caller passed as custom sampling context. Made when a
/// sampler first asks (most transactions are decided by a rate, and nothing asks).
/// </summary>
public sealed class SamplingContext
{
    private readonly Func<JObject>? _make;
    private JObject? _data;

    public SamplingContext(JObject data) => _data = data;

    public SamplingContext(Func<JObject> make) => _make = make;

    public JObject Data => _data ??= _make!();
}
