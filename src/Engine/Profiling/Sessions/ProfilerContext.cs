using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>What the transaction and continuous profilers of one hub share: its settings (immutable), the sampler, and where results go.</summary>
internal sealed record ProfilerContext(
    SentryOptions Options,
    ISampler Sampler,
    HostInfo Host,
    InAppRules InApp,
    ClientReports Reports,
    Action<Envelope> Send,
    Action<string>? Log);
