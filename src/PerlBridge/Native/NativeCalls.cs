using System.Runtime.CompilerServices;

namespace PerlSentry.PerlBridge.Native;

/// <summary>
/// Calls of the shim's table that are never inlined into their callers, for two reasons:
/// <list type="bullet">
/// <item>A method that inlines a call into native code sets up a P/Invoke frame on every call, taken or
/// not (<see cref="PbWriter"/>'s growth: measured 2.5–3 ns of a C# sub that returns a constant).</item>
/// <item>Inside a try, catch, finally or lock, the JIT does not inline a native call on Linux, and
/// ReadyToRun then leaves the whole method to the JIT at run time (crossgen2 --verbose:
/// "GetCookieForPInvokeCalliSig requires runtime JIT"): PerlInterpreter.DestroyHere alone loaded the
/// JIT at every start of perl-sentry. Called through these, such methods are precompiled.</item>
/// </list>
/// </summary>
internal static unsafe class NativeCalls
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void BufReserve(pb_buf* buf, nuint n) => PerlRuntime.Api->buf_reserve(buf, n);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void BufFree(pb_buf* buf) => PerlRuntime.Api->buf_free(buf);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void InterpFree(nint ip) => PerlRuntime.Api->interp_free(ip);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int SampleDrain(nint ip, pb_buf* into) => PerlRuntime.Api->sample_drain(ip, into);
}
