namespace PerlSentry.PerlBridge.Tests;

/// <summary>
/// No longjmp may cross a managed frame: loop die/croak/exit through every path
/// thousands of times while another thread forces garbage collections.
/// A longjmp over a managed frame corrupts the CLR's frame chain and crashes or hangs the next GC.
/// </summary>
[NonParallelizable]
public sealed class StressTests
{
    private static PerlInterpreter Perl => SharedInterpreter.Perl;

    [Test]
    public void DieCroakExit_EveryPath_UnderForcedGcs()
    {
        Perl.DefineSub("T::st_throw", (ref PerlCall call) => throw new InvalidOperationException("x"));
        Perl.DefineSub("T::st_exit", (ref PerlCall call) => throw new PerlExitException(1));
        Perl.DefineSub("T::st_nested", (ref PerlCall call) => call.Return(Perl.Eval("T::st_inner()")));
        Perl.DefineSub("T::st_value", (ref PerlCall call) => call.Return(call.NextInt64() + 1));
        Perl.Eval("sub T::st_inner { die \"inner\\n\" } 1");

        using var stop = new CancellationTokenSource();
        var gcs = 0;
        var gc = new Thread(() => { while (!stop.IsCancellationRequested) { GC.Collect(); Interlocked.Increment(ref gcs); Thread.Sleep(1); } });
        gc.Start();
        var counts = new int[6];
        try
        {
            for (var i = 0; i < 3000; i++)
            {
                try { Perl.Eval("die 'plain'"); } catch (PerlException) { counts[0]++; }
                try { Perl.Eval("T::st_throw()"); } catch (PerlException) { counts[1]++; }
                try { Perl.Eval("exit 2"); } catch (PerlExitException) { counts[2]++; }
                try { Perl.Eval("T::st_exit()"); } catch (PerlExitException) { counts[3]++; }
                if ((string?)Perl.Eval("eval { T::st_nested() }; $@") == "inner\n") counts[4]++;
                if (Perl.Eval("eval { T::st_throw() }; T::st_value(41)") is 42L) counts[5]++;
            }
        }
        finally
        {
            stop.Cancel();
            gc.Join();
        }
        Assert.That(counts, Is.All.EqualTo(3000));
        Assert.That(gcs, Is.GreaterThan(10));
    }

    [Test]
    public void DeepNesting_PerlCSharpPerl_UnwindsCleanly()
    {
        // Perl -> C# -> Perl -> ... 50 levels deep, dying at the bottom and caught at the top.
        Perl.DefineSub("T::down", (ref PerlCall call) =>
        {
            var n = call.NextInt64();
            call.Return(n == 0 ? Perl.Eval("die \"bottom\\n\"") : Perl.Call("T::down_perl", n - 1));
        });
        Perl.Eval("sub T::down_perl { T::down($_[0]) } 1");
        Perl.DefineSub("T::deep_value", (ref PerlCall call) => call.Return(call.NextInt64() + 1));
        for (var i = 0; i < 200; i++)
            Assert.That(Perl.Eval("eval { T::down(50) }; $@"), Is.EqualTo("bottom\n"));
        Assert.That(Perl.Eval("T::deep_value(1)"), Is.EqualTo(2L));
    }
}
