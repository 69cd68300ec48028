namespace PerlSentry.PerlBridge.Tests;

/// <summary>The assembly-wide interpreter most bridge tests share.</summary>
[SetUpFixture]
public sealed class SharedInterpreter
{
    public static PerlInterpreter Perl { get; private set; } = null!;

    [OneTimeSetUp]
    public void Start() => Perl = PerlInterpreter.Start();

    [OneTimeTearDown]
    public void Stop() => Perl.Dispose();
}
