using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tracing;

/// <summary>What the hub tells the profiler about sampled transactions (profiles on transactions, the trace lifecycle).</summary>
public interface ITransactionProfiler
{
    void OnTransactionStarted(Transaction transaction, SamplingContext context);

    /// <summary>
    /// What makes the transaction's profile item, if it has one worth sending (it may run on another
    /// thread); also called for unsampled ones (to clean up).
    /// </summary>
    Func<EnvelopeItem?>? OnTransactionFinished(Transaction transaction);
}
