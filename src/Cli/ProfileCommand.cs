using System.Runtime.InteropServices;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Profiling.Export;
using PerlSentry.Engine.Sentry;
using PerlSentry.PerlBridge;

namespace PerlSentry.Cli;

/// <summary><c>perl-sentry profile</c>: runs the program like <c>run</c>, sampled, then writes the profile.</summary>
internal static class ProfileCommand
{
    public static int Execute(ProfileRequest request, TextWriter report)
    {
        var outDir = request.ResolveOutputDir(DateTime.Now);   // absolute, made and writable: refused before running, not after
        var perl = RunCommand.CreateHostedInterpreter();
        // XS time belongs to its caller: the runtime's start wraps XS calls unless PERLSENTRY_XS_SAMPLES=0.
        var bundled = RunCommand.BundledLib();
        // The interpreter's one sampler, shared with the SDK's own profiles if the program makes any;
        // this run keeps every sample (the SDK only trims what no one needs).
        var sampler = InterpreterSampler.For(perl, bundled is null ? [] : [Path.GetFullPath(bundled)]);
        var owner = new object();
        sampler.Retain(owner, [new TimeWindow(long.MinValue, long.MaxValue)]);
        sampler.Acquire(1_000_000 / request.Hz, request.MaxDepth);
        var title = request.Run.Script is null ? "perl -e" : Path.GetFileName(request.Run.Script);
        var output = new Output(request, outDir, title, sampler, report);

        // What was sampled is kept when the program ends other than by returning: a TERM or Ctrl-C it
        // does not handle itself (written, then the signal does what it would have done), or exec.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => output.Write("stopped by SIGTERM"));
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => output.Write("stopped by SIGINT"));
        PerlInterpreter.BeforeExec(() => output.Write("the program called exec"));
        int status;
        try
        {
            status = perl.RunProgram(request.Run.PerlArgv(bundled));
        }
        finally
        {
            PerlInterpreter.BeforeExec(null);
        }
        sampler.Release();
        output.Write(null);
        return status;
    }

    /// <summary>The profile's files and summary, written once: at the end, or when the program is stopped or execs first.</summary>
    private sealed class Output(ProfileRequest request, string outDir, string title, InterpreterSampler sampler, TextWriter report)
    {
        private int _written;

        public void Write(string? why)
        {
            if (Interlocked.Exchange(ref _written, 1) == 1)
                return;
            try
            {
                WriteFiles(why);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                report.WriteLine($"perl-sentry profile: the profile could not be written to {outDir}: {e.Message}");
            }
        }

        private void WriteFiles(string? why)
        {
            sampler.Drain();
            var snapshot = sampler.Store.Snapshot().Ticks();
            var written = new List<string>();
            void Write(string format, string file, Func<string> content)
            {
                if (!request.Formats.Contains(format))
                    return;
                var path = Path.Combine(outDir, file);
                File.WriteAllText(path, content());
                written.Add(path);
            }
            Write("flamegraph", "flamegraph.html", () => FlameGraphExporter.Export(snapshot, title));
            Write("flamegraph", "lines.html", () => LinesExporter.Export(snapshot, title));   // time per line, with the code
            Write("speedscope", "profile.speedscope.json", () => SpeedscopeExporter.Export(snapshot, title));
            Write("collapsed", "profile.collapsed.txt", () => CollapsedExporter.Export(snapshot));
            if (request.Formats.Contains("sentry"))
            {
                // Continuous-profiling chunks (format v2), one envelope per 60 s, as the SDK would send them.
                var chunks = SentryChunkExporter.Export(snapshot, new SentryChunkExporter.Context(Guid.NewGuid().ToString("N"), SdkInfo.Default));
                for (var i = 0; i < chunks.Count; i++)
                {
                    var path = Path.Combine(outDir, $"profile_chunk-{i + 1}.envelope");
                    File.WriteAllBytes(path, Envelope.FromProfileChunk(chunks[i], SdkInfo.Default).Serialize(DateTimeOffset.UtcNow));
                    written.Add(path);
                }
            }

            var seconds = snapshot.TotalWeight * snapshot.Interval.TotalSeconds;
            report.WriteLine();
            report.WriteLine($"perl-sentry profile: {snapshot.Samples.Count} samples ({snapshot.TotalWeight} ticks, {seconds:F2} s at {request.Hz} Hz) of {title}"
                + (why is null ? "" : $" ({why}: what was sampled until then)"));
            report.Write(FunctionStats.Table(snapshot));
            report.WriteLine();
            report.Write(LinesExporter.Top(snapshot, 5));
            foreach (var path in written)
                report.WriteLine($"wrote {path}");
            report.Flush();
        }
    }
}
