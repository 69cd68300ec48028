namespace PerlSentry.PerlBridge.Tests;

public sealed class InterpretersTests
{
    [Test]
    public void SeveralInterpreters_RunConcurrently_AndStayIsolated()
    {
        var perls = Enumerable.Range(0, 4).Select(_ => PerlInterpreter.Start()).ToList();
        try
        {
            for (var i = 0; i < perls.Count; i++)
                perls[i].Eval($"our $id = {i}; sub work {{ my $t = 0; $t += $_ for 1 .. 20000; $t + $id }} 1");
            var results = new long[perls.Count];
            Parallel.For(0, perls.Count, i =>
            {
                for (var k = 0; k < 50; k++)
                    results[i] = (long)perls[i].Call("work")!;
            });
            Assert.That(results, Is.EqualTo(new long[] { 200010000, 200010001, 200010002, 200010003 }));
        }
        finally
        {
            foreach (var p in perls) p.Dispose();
        }
    }

    [Test]
    public void CallsFromOtherThreads_RunOnTheOwnerThread()
    {
        using var perl = PerlInterpreter.Start();
        perl.DefineSub("T::thread_id", (ref PerlCall call) => call.Return(Environment.CurrentManagedThreadId));
        var ids = new System.Collections.Concurrent.ConcurrentBag<long>();
        Parallel.For(0, 8, _ => ids.Add((long)perl.Eval("T::thread_id()")!));
        Assert.That(ids.Distinct().Count(), Is.EqualTo(1));
        Assert.That(ids.First(), Is.Not.EqualTo(Environment.CurrentManagedThreadId));
    }

    [Test]
    public void StartAndDispose_ManyTimes_RunsEndBlocksAndDoesNotLeak()
    {
        var file = Path.GetTempFileName();
        try
        {
            for (var i = 0; i < 30; i++)
            {
                var perl = PerlInterpreter.Start();
                perl.Eval($"END {{ open my $f, '>>', '{file}' or die; print $f 'e' }} 1");
                perl.DefineSub("T::x", (ref PerlCall c) => c.Return(1L));
                perl.Dispose();
                Assert.That(perl.IsDisposed, Is.True);
            }
            Assert.That(File.ReadAllText(file), Is.EqualTo(new string('e', 30)));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void Disposed_Interpreter_RefusesCalls()
    {
        var perl = PerlInterpreter.Start();
        perl.Dispose();
        Assert.That(() => perl.Eval("1"), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void IncludeDirs_AreOnInc()
    {
        using var perl = PerlInterpreter.Start(["/tmp/perlsentry-test-inc"]);
        Assert.That(perl.Eval("$INC[0]"), Is.EqualTo("/tmp/perlsentry-test-inc"));
    }

    [Test]
    public void XsModules_Load() =>
        Assert.That(SharedInterpreter.Perl.Eval("use POSIX (); use List::Util (); use Digest::SHA (); Digest::SHA::sha1_hex('abc')"),
            Is.EqualTo("a9993e364706816aba3e25717850c26c9cd0d89d"));
}
