namespace PerlSentry.PerlBridge.Tests;

/// <summary>
/// In a .NET process a process signal usually lands on a thread that never entered Perl;
/// the shim forwards it to the thread of the interpreter that has a handler.
/// </summary>
[NonParallelizable]
public sealed class SignalsTests
{
    [Test]
    public void Alarm_OnDedicatedThread_InterruptsSleepAndRunsHandler()
    {
        using var perl = PerlInterpreter.Start();
        perl.ClaimSignals();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = perl.Eval("my $r = eval { local $SIG{ALRM} = sub { die \"alarm\\n\" }; alarm 1; sleep 10; 'slept' }; $r // $@");
        Assert.That(r, Is.EqualTo("alarm\n"));
        Assert.That(sw.Elapsed.TotalSeconds, Is.InRange(0.8, 5));
    }

    [Test]
    public void KillSelf_OnDedicatedThread_RunsHandler()
    {
        using var perl = PerlInterpreter.Start();
        perl.ClaimSignals();
        var r = perl.Eval("my $got = 0; local $SIG{USR1} = sub { $got++ }; kill USR1 => $$; select(undef, undef, undef, 0.05) for 1 .. 100; $got");
        Assert.That(r, Is.EqualTo(1L));
    }

    [Test]
    public void Sleep_IsNotCutShort()
    {
        using var perl = PerlInterpreter.Start();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.That(perl.Eval("sleep 1"), Is.EqualTo(1L));
        Assert.That(sw.Elapsed.TotalSeconds, Is.GreaterThanOrEqualTo(0.95));
    }

    [Test]
    public void SignalHandler_OfAnInterpreterThatDidNotClaim_IsNotInstalled()
    {
        // perl's own rule (Perl_rsignal): only the signal-owning interpreter installs handlers.
        using var owner = PerlInterpreter.Start();
        using var other = PerlInterpreter.Start();
        owner.ClaimSignals();
        Assert.That(other.Eval("my $got = 0; local $SIG{USR2} = sub { $got++ }; 'set'"), Is.EqualTo("set"));
        Assert.That(owner.Eval("my $got = 0; local $SIG{USR2} = sub { $got++ }; kill USR2 => $$; select(undef, undef, undef, 0.05) for 1 .. 40; $got"), Is.EqualTo(1L));
    }
}
