using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PerlSentry.PerlBridge.Native;

namespace PerlSentry.PerlBridge;

/// <summary>The C# subs registered into Perl, indexed by the id the shim keeps in each XSUB.</summary>
internal static unsafe class SubTable
{
    private sealed record Entry(PerlInterpreter Interpreter, PerlSubHandler Handler);

    private static readonly Lock Gate = new();
    private static Entry?[] _entries = new Entry?[64];
    private static int _count;

    public static int Register(PerlInterpreter interpreter, PerlSubHandler handler)
    {
        lock (Gate)
        {
            if (_count == _entries.Length)
            {
                var bigger = new Entry?[_count * 2];
                _entries.CopyTo(bigger, 0);
                _entries = bigger;   // readers see the old or the new array, both valid
            }
            _entries[_count] = new Entry(interpreter, handler);
            return _count++;
        }
    }

    public static void Unregister(PerlInterpreter interpreter)
    {
        lock (Gate)
        {
            for (var i = 0; i < _count; i++)
                if (_entries[i]?.Interpreter == interpreter)
                    _entries[i] = null;
        }
    }

    /// <summary>The shim's pb_callback_fn. Ends in a catch-all: no exception may reach native code.</summary>
    [UnmanagedCallersOnly]
    internal static int Dispatch(nint ip, int id, int ctx, byte* args, nuint argsLen, int nargs, pb_buf* ret, int* count, int* exitStatus)
    {
        try
        {
            var entries = Volatile.Read(ref _entries);
            var entry = (uint)id < (uint)entries.Length ? entries[id] : null;
            if (entry is null)
                return Fail(ret, "this C# sub was removed with its interpreter");
            var call = new PerlCall(entry.Interpreter, (PerlContext)ctx, new ReadOnlySpan<byte>(args, (int)argsLen), nargs, ret);
            entry.Handler(ref call);
            *count = call.ReturnCount;
            return PerlNative.PB_OK;
        }
        catch (PerlExitException e)
        {
            *exitStatus = e.Status;
            return PerlNative.PB_EXITED;
        }
        catch (PerlException e)
        {
            return Fail(ret, e.PerlMessage, e.Value);
        }
        catch (Exception e)
        {
            return Fail(ret, $"{e.GetType().Name}: {e.Message}");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Fail(pb_buf* ret, string message, PerlRef? value = null)
    {
        try
        {
            ret->len = 0;
            var w = new PbWriter(ret);
            w.String(message);
            if (value is null) w.Undef(); else w.Ref(value);
        }
        catch
        {
            ret->len = 0;   // the shim then dies with a generic message
        }
        return PerlNative.PB_DIED;
    }
}
