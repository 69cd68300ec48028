using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Session;

/// <summary>
/// What a session needs from where it runs: in-process (an interpreter of this process) or in the
/// agent (an interpreter in a client process, across a socket).
/// </summary>
/// <param name="Sampler">The interpreter's sampler, made on first use.</param>
/// <param name="Clock">The clock on the samples' time line (in the agent: the time the client made the call).</param>
/// <param name="Host">Device, OS and perl version for events and profiles.</param>
/// <param name="ThreadId">The interpreter's thread (transactions' <c>thread.id</c>).</param>
/// <param name="ThreadName">Its name (<c>main</c>, or the ithread's).</param>
/// <param name="LibraryDirs">Directories of library code besides perl's own (the bundled modules): not in-app.</param>
/// <param name="Warn">The program's STDERR: warnings the SDK owes the user (not debug logging).</param>
public sealed record SessionHost(
    Func<ISampler> Sampler,
    IClock Clock,
    HostInfo Host,
    string ThreadId,
    string ThreadName,
    IReadOnlyList<string> LibraryDirs,
    Action<string> Warn)
{
    /// <summary>
    /// The transport the options ask for and the client reports it sends (default: a new one of
    /// <see cref="TransportFactory.Create"/>; the agent shares one between sessions with the same
    /// options). Gets debug logging and the warning sink.
    /// </summary>
    public Func<SentryOptions, IClock, Action<string>?, Action<string>, (ITransport? Transport, ClientReports Reports)> Transports { get; init; } =
        (options, clock, log, warn) =>
        {
            var reports = new ClientReports();
            return (TransportFactory.Create(options, clock, reports, log, warn), reports);
        };

    /// <summary>Where events and transactions are written to envelopes off the program's thread; null: on it.</summary>
    public CaptureWriter? Writer { get; init; }
}
