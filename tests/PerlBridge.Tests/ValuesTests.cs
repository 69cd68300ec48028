namespace PerlSentry.PerlBridge.Tests;

public sealed class ValuesTests
{
    private static PerlInterpreter Perl => SharedInterpreter.Perl;

    [OneTimeSetUp]
    public void Define() => Perl.Eval("""
        package T;
        sub echo { return @_ }
        sub count { return scalar @_ }
        sub describe { my $v = shift; return !defined $v ? 'undef' : ref $v ? ref $v : "scalar:$v" }
        sub make { return { list => [1, 2.5, 'three', undef], nested => { k => 'v' }, n => -7 } }
        sub sum_list { my $t = 0; $t += $_ for @{ $_[0] }; $t }
        sub keys_of { join ',', sort keys %{ $_[0] } }
        sub obj { bless { name => $_[0] }, 'T::Obj' }
        sub T::Obj::name { $_[0]{name} }
        sub adder { my $n = shift; sub { $n + shift } }
        sub ctx { wantarray ? 'list' : defined wantarray ? 'scalar' : 'void' }
        1;
        """);

    [Test]
    public void Eval_Arithmetic_ReturnsInteger() => Assert.That(Perl.Eval("6 * 7"), Is.EqualTo(42L));

    [Test]
    public void Eval_Float_ReturnsDouble() => Assert.That(Perl.Eval("1 / 4"), Is.EqualTo(0.25));

    [Test]
    public void Eval_String_ReturnsString() => Assert.That(Perl.Eval("join '-', 'a', 'b'"), Is.EqualTo("a-b"));

    [Test]
    public void Eval_Undef_ReturnsNull() => Assert.That(Perl.Eval("undef"), Is.Null);

    [Test]
    public void EvalList_ReturnsAllValues() => Assert.That(Perl.EvalList("(1, 'two', 3.5)"), Is.EqualTo(new object?[] { 1L, "two", 3.5 }));

    [Test]
    public void Call_Scalars_RoundTrip()
    {
        var back = Perl.CallList("T::echo", 1, -2L, 3.25, "four", null, true, false, long.MaxValue, ulong.MaxValue);
        Assert.That(back, Is.EqualTo(new object?[] { 1L, -2L, 3.25, "four", null, true, false, long.MaxValue, ulong.MaxValue }));
    }

    [Test]
    public void Call_Unicode_RoundTripsAsCharacters()
    {
        const string text = "héllo ✓ 日本 🎉";
        Assert.That(Perl.CallList("T::echo", text), Is.EqualTo(new object?[] { text }));
        Assert.That(Perl.Eval("length((T::echo(\"日本\"))[0])"), Is.EqualTo(2L));
    }

    [Test]
    public void Eval_ByteStrings_DecodeUtf8OrLatin1()
    {
        Assert.That(Perl.Eval("\"caf\\xc3\\xa9\""), Is.EqualTo("café"));   // UTF-8 bytes, the common case
        Assert.That(Perl.Eval("\"caf\\xe9\""), Is.EqualTo("café"));        // Latin-1 bytes
    }

    [Test]
    public void Call_ArrayAndHash_AreCopiedIn()
    {
        Assert.That(Perl.Call("T::sum_list", new List<object?> { 1, 2, 3.5 }), Is.EqualTo(6.5));
        Assert.That(Perl.Call("T::keys_of", new Dictionary<string, object?> { ["b"] = 1, ["a"] = null }), Is.EqualTo("a,b"));
        Assert.That(Perl.Call("T::describe", new[] { 1, 2 }), Is.EqualTo("ARRAY"));
        Assert.That(Perl.Call("T::describe", (object?)null), Is.EqualTo("undef"));
    }

    [Test]
    public void Call_NestedStructure_IsCopiedOut()
    {
        var made = (Dictionary<string, object?>)Perl.Call("T::make")!;
        Assert.That(made["list"], Is.EqualTo(new List<object?> { 1L, 2.5, "three", null }));
        Assert.That(((Dictionary<string, object?>)made["nested"]!)["k"], Is.EqualTo("v"));
        Assert.That(made["n"], Is.EqualTo(-7L));
    }

    [Test]
    public void Call_Context_IsPassed()
    {
        Assert.That(Perl.Call("T::ctx"), Is.EqualTo("scalar"));
        Assert.That(Perl.CallList("T::ctx"), Is.EqualTo(new object?[] { "list" }));
        Assert.That(Perl.CallNamed("T::ctx", PerlContext.Void), Is.Empty);
    }

    [Test]
    public void Object_StaysInPerl_AsHandle()
    {
        using var obj = (PerlRef)Perl.Call("T::obj", "widget")!;
        Assert.That(obj.ClassName, Is.EqualTo("T::Obj"));
        Assert.That(obj.Kind, Is.EqualTo(PerlRefKind.Hash));
        Assert.That(Perl.Call("T::Obj::name", obj), Is.EqualTo("widget"));
    }

    [Test]
    public void CodeRef_CanBeCalledFromCSharp()
    {
        using var add5 = (PerlRef)Perl.Call("T::adder", 5)!;
        Assert.That(add5.Kind, Is.EqualTo(PerlRefKind.Code));
        Assert.That(add5.Call(10), Is.EqualTo(15L));
    }

    [Test]
    public void CodeRef_Released_IsFreedInPerl()
    {
        Perl.Eval("package T; our $freed = 0; sub T::Guard::DESTROY { $T::freed++ } 1");
        var obj = (PerlRef)Perl.Eval("bless {}, 'T::Guard'")!;
        Assert.That(Perl.Eval("$T::freed"), Is.EqualTo(0L));
        obj.Dispose();
        Assert.That(Perl.Eval("$T::freed"), Is.EqualTo(1L));
    }

    [Test]
    public void Finalized_Handle_IsReleasedOnTheOwnerThread()
    {
        Perl.Eval("package T; our $freed2 = 0; sub T::Guard2::DESTROY { $T::freed2++ } 1");
        MakeGarbage();
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.That(Perl.Eval("$T::freed2"), Is.EqualTo(1L));   // drained before this call runs
    }

    private static void MakeGarbage() => _ = Perl.Eval("bless {}, 'T::Guard2'");

    [Test]
    public void CSharpSub_GetsArgumentsAndReturnsValues()
    {
        Perl.DefineSub("T::cs_concat", (ref PerlCall call) =>
        {
            var sb = new System.Text.StringBuilder();
            while (call.HasMoreArguments)
                sb.Append(call.NextString() ?? "<undef>").Append('|');
            call.Return(sb.ToString());
            call.Return(call.ArgumentCount);
        });
        Assert.That(Perl.EvalList("T::cs_concat('a', 2, 3.5, undef, '日本')"), Is.EqualTo(new object?[] { "a|2|3.5|<undef>|日本|", 5L }));
    }

    [Test]
    public void CSharpSub_StructuresBothWays()
    {
        Perl.DefineSub("T::cs_shape", args => new Dictionary<string, object?>
        {
            ["got"] = args[0],
            ["list"] = new object?[] { 1, "x", null },
        });
        Assert.That(Perl.Eval("my $r = T::cs_shape([1, { a => 2 }]); join ',', $r->{got}[1]{a}, scalar @{ $r->{list} }, $r->{list}[1], defined $r->{list}[2] ? 'def' : 'undef'"),
            Is.EqualTo("2,3,x,undef"));
    }

    [Test]
    public void CSharpSub_SeesWantarray()
    {
        Perl.DefineSub("T::cs_ctx", (ref PerlCall call) => call.Return(call.Context.ToString()));
        Assert.That(Perl.Eval("my @l = T::cs_ctx(); my $s = T::cs_ctx(); \"$l[0] $s\""), Is.EqualTo("List Scalar"));
    }

    [Test]
    public void CSharpSub_TiedArgument_GetsMagicApplied()
    {
        Perl.DefineSub("T::cs_echo", (ref PerlCall call) => call.Return(call.NextArgument()));
        Assert.That(Perl.Eval("""
            package T::Tie; sub TIESCALAR { bless {} } sub FETCH { 'fetched' }
            package main; tie my $t, 'T::Tie'; T::cs_echo($t)
            """), Is.EqualTo("fetched"));
    }

    [Test]
    public void NestedCalls_DoNotClobberTheOuterResults()
    {
        Perl.DefineSub("T::cs_nest", (ref PerlCall call) => call.Return(Perl.Eval("'inner'")));
        Perl.DefineSub("T::cs_nest_die", (ref PerlCall call) => Perl.Eval("die 'inner death'"));
        Assert.That(Perl.EvalList("my @x = T::cs_nest(); (1, 2, @x)"), Is.EqualTo(new object?[] { 1L, 2L, "inner" }));
        Assert.That(Perl.EvalList("eval { T::cs_nest_die() }; (1, 2)"), Is.EqualTo(new object?[] { 1L, 2L }));
    }

    [Test]
    public void CSharpSub_ReturningAfterStackGrowth_PushesOnTheLiveStack()
    {
        // The C# sub runs Perl code that grows the argument stack (a 100k-element list);
        // the trampoline must push its results on the reallocated stack.
        Perl.DefineSub("T::cs_grow", (ref PerlCall call) => call.Return(((object?[])Perl.EvalList("(1) x 100000")).Length));
        Assert.That(Perl.EvalList("map { T::cs_grow() } 1 .. 3"), Is.EqualTo(new object?[] { 100000L, 100000L, 100000L }));
    }
    // Calls compiled knowing the C# sub run the bridge's own op, not entersub: these hold for both.

    [Test]
    public void CSharpSub_InScalarContext_GivesItsLastValueOrUndef()
    {
        Perl.DefineSub("T::cs_three", (ref PerlCall call) => { call.Return(1L); call.Return(2L); call.Return(3L); });
        Perl.DefineSub("T::cs_nothing", (ref PerlCall call) => { });
        Assert.That(Perl.EvalList("my $s = T::cs_three(); my $n = T::cs_nothing(); my @l = T::cs_three(); my @e = T::cs_nothing(); ($s, defined $n ? 'def' : 'undef', scalar @l, 0 + @e, 'end')"),
            Is.EqualTo(new object?[] { 3L, "undef", 3L, 0L, "end" }));
    }

    [Test]
    public void CSharpSub_RedefinedInPerl_CompiledCallsRunTheNewSub()
    {
        Perl.DefineSub("T::cs_redefined", (ref PerlCall call) => call.Return("C#"));
        Perl.Eval("sub T::calls_redefined { T::cs_redefined(@_) } 1");
        Assert.That(Perl.Eval("T::calls_redefined()"), Is.EqualTo("C#"));
        Perl.Eval("no warnings 'redefine'; *T::cs_redefined = sub { 'Perl ' . scalar @_ }; 1");
        Assert.That(Perl.Eval("T::calls_redefined(1, 2)"), Is.EqualTo("Perl 2"));
    }

    [Test]
    public void CSharpSub_ByReferenceAmpersandAndGoto_StillWork()
    {
        Perl.DefineSub("T::cs_count", (ref PerlCall call) => call.Return(call.ArgumentCount));
        Assert.That(Perl.EvalList("""
            my $r = \&T::cs_count;
            sub T::amp { &T::cs_count }          # the caller's @_
            sub T::jump { goto &T::cs_count }
            ($r->(1, 2), T::amp(1, 2, 3), T::jump(1, 2, 3, 4), &T::cs_count(5))
            """), Is.EqualTo(new object?[] { 2L, 3L, 4L, 1L }));
    }

    [Test]
    public void CSharpSub_DyingInALoop_LeavesTheStacksAsTheyWere()
    {
        Perl.DefineSub("T::cs_boom", (ref PerlCall call) => throw new InvalidOperationException("boom"));
        Assert.That(Perl.EvalList("""
            my ($caught, @kept) = (0);
            for my $i (1 .. 2000) { my @x = (1, 2, eval { T::cs_boom($i) }); $caught++ if $@ =~ /boom/; push @kept, scalar @x if $i == 2000 }
            ($caught, @kept, join(',', map { $_ * 2 } 1 .. 3))
            """), Is.EqualTo(new object?[] { 2000L, 2L, "2,4,6" }));
    }
}
