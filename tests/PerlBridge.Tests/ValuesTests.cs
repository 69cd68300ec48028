namespace PerlSentry.PerlBridge.Tests;

public sealed class ValuesTests
{
    private static PerlInterpreter Perl => SharedInterpreter.Perl;

    [Test]
    public void Eval_Arithmetic_ReturnsInteger() => Assert.That(Perl.Eval("6 * 7"), Is.EqualTo(42L));

    [Test]
    public void Eval_String_ReturnsString() => Assert.That(Perl.Eval("join '-', 'a', 'b'"), Is.EqualTo("a-b"));
}
