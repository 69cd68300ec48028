using System.Diagnostics;

namespace PerlSentry.Cli.Tests;

internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

/// <summary>Runs a real process with arguments, stdin and extra environment; kills it after a timeout.</summary>
internal static class ProcessRunner
{
    public static ProcessResult Run(string file, IEnumerable<string> args, string workingDir,
        string? stdin = null, IDictionary<string, string>? env = null, int timeoutMs = 60_000)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = System.Text.Encoding.Latin1,   // compare bytes, not decoded text
            StandardErrorEncoding = System.Text.Encoding.Latin1,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
            p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result, sw.Elapsed);
    }
}
