using System.Text;

namespace PerlSentry.Cli;

internal static class Program
{
    private static int Main(string[] args) => CliApp.Run(args, new LazyStderr());

    /// <summary>
    /// <see cref="Console.Error"/>, made when something is written: setting it up costs a .NET program
    /// ~15 ms here (an empty program: 39.8 ms, 54.8 ms when it only reads Console.Error), and
    /// <c>perl-sentry run</c> writes nothing to it unless something is wrong.
    /// </summary>
    private sealed class LazyStderr : TextWriter
    {
        private TextWriter? _error;

        private TextWriter Error => _error ??= Console.Error;

        public override Encoding Encoding => Error.Encoding;

        public override void Write(char value) => Error.Write(value);

        public override void Write(string? value) => Error.Write(value);

        public override void WriteLine(string? value) => Error.WriteLine(value);

        public override void Flush() => _error?.Flush();
    }
}
