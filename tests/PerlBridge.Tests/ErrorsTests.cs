namespace PerlSentry.PerlBridge.Tests;

public sealed class ErrorsTests
{
    private static PerlInterpreter Perl => SharedInterpreter.Perl;

    [Test]
    public void PerlDie_BecomesPerlException_WithFileAndLine()
    {
        var e = Assert.Throws<PerlException>(() => Perl.Eval("#line 12 \"lib/Thing.pm\"\ndie 'it broke'"))!;
        Assert.That(e.Message, Is.EqualTo("it broke at lib/Thing.pm line 12."));
        Assert.That(e.PerlFile, Is.EqualTo("lib/Thing.pm"));
        Assert.That(e.PerlLine, Is.EqualTo(12));
    }

    [Test]
    public void PerlDie_WithObject_KeepsTheObject()
    {
        var e = Assert.Throws<PerlException>(() => Perl.Eval("die bless { code => 7 }, 'My::Err'"))!;
        Assert.That(e.Value, Is.Not.Null);
        Assert.That(e.Value!.ClassName, Is.EqualTo("My::Err"));
        Assert.That(Perl.Call("T::describe_err", e.Value), Is.EqualTo(7L));
    }

    [OneTimeSetUp]
    public void Define() => Perl.Eval("sub T::describe_err { $_[0]{code} } 1");

    [Test]
    public void UndefinedSub_IsAPerlException() =>
        Assert.That(() => Perl.Call("No::Such::sub"), Throws.TypeOf<PerlException>().With.Message.Contains("Undefined subroutine &No::Such::sub"));

    [Test]
    public void SyntaxError_IsAPerlException() =>
        Assert.That(() => Perl.Eval("1 +"), Throws.TypeOf<PerlException>().With.Message.Contains("syntax error"));

    [Test]
    public void CSharpException_BecomesCatchableDie()
    {
        Perl.DefineSub("T::cs_throw", (ref PerlCall call) => throw new InvalidOperationException("bad state"));
        var r = Perl.Eval("#line 5 \"x.pl\"\nmy $ok = eval { T::cs_throw(); 1 }; $ok ? 'no error' : $@");
        Assert.That(r, Is.EqualTo("InvalidOperationException: bad state at x.pl line 5.\n"));
    }

    [Test]
    public void CSharpException_Uncaught_ReachesTheCSharpCaller()
    {
        Perl.DefineSub("T::cs_throw2", (ref PerlCall call) => throw new ArgumentException("nope"));
        Assert.That(() => Perl.Eval("T::cs_throw2(); 1"), Throws.TypeOf<PerlException>().With.Message.StartsWith("ArgumentException: nope at "));
    }

    [Test]
    public void PerlObjectException_RethrownThroughCSharp_KeepsIdentity()
    {
        Perl.DefineSub("T::cs_relay", (ref PerlCall call) => Perl.Eval("die bless { code => 99 }, 'My::Err'"));
        Assert.That(Perl.Eval("eval { T::cs_relay() }; ref($@) . ':' . $@->{code}"), Is.EqualTo("My::Err:99"));
    }

    [Test]
    public void PerlExit_IsReportedToTheHost()
    {
        var e = Assert.Throws<PerlExitException>(() => Perl.Eval("exit 3"))!;
        Assert.That(e.Status, Is.EqualTo(3));
        Assert.That(Perl.Eval("'still usable'"), Is.EqualTo("still usable"));
    }

    [Test]
    public void CSharpExit_MakesPerlExit()
    {
        Perl.DefineSub("T::cs_exit", (ref PerlCall call) => throw new PerlExitException((int)call.NextInt64()));
        var e = Assert.Throws<PerlExitException>(() => Perl.Eval("T::cs_exit(4); 'not reached'"))!;
        Assert.That(e.Status, Is.EqualTo(4));
    }

    [Test]
    public void Croak_FromXs_IsAPerlException() =>
        Assert.That(() => Perl.Eval("use POSIX (); POSIX::strtol()"), Throws.TypeOf<PerlException>().With.Message.Contains("Usage"));
}
