// The only P/Invoke declarations of the project. Names and layouts mirror
// Native/native/pb_api.h exactly; bump PB_ABI_VERSION in both on any change.
using System.Runtime.InteropServices;

namespace PerlSentry.PerlBridge.Native;

#pragma warning disable IDE1006, CA1707 // keep the C names

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct pb_buf
{
    public byte* data;
    public nuint len;
    public nuint cap;
}

[StructLayout(LayoutKind.Sequential)]
internal struct pb_result
{
    public pb_buf @out;
    public int exit_status;
    public int count;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct pb_api
{
    public uint abi;
    public uint size;
    public byte* perl_version;
    public byte* archname;
    public byte* perl_path;
    public byte* lib_dirs;

    public delegate* unmanaged<nint, byte*, int, int> sys_init;
    public delegate* unmanaged<byte*, byte*, int, nint> interp_new;
    public delegate* unmanaged<nint, int, byte**, int> interp_parse;
    public delegate* unmanaged<nint, int> interp_run;
    public delegate* unmanaged<nint, int> interp_destruct;
    public delegate* unmanaged<nint, void> interp_free;
    public delegate* unmanaged<nint, byte*, nuint, int, pb_result*, int> eval;
    public delegate* unmanaged<nint, byte*, nuint, int, byte*, nuint, int, pb_result*, int> call_named;
    public delegate* unmanaged<nint, nint, int, byte*, nuint, int, pb_result*, int> call_ref;
    public delegate* unmanaged<nint, byte*, nuint, int, pb_result*, int> define_sub;
    public delegate* unmanaged<nint, nint, void> sv_release;
    public delegate* unmanaged<pb_buf*, nuint, void> buf_reserve;
    public delegate* unmanaged<pb_buf*, void> buf_free;
    public delegate* unmanaged<int> is_child;
    public delegate* unmanaged<int> interp_count;
    public delegate* unmanaged<nint, void> signals_claim;

    public delegate* unmanaged<nint, long, int, int> sample_start;
    public delegate* unmanaged<nint, void> sample_stop;
    public delegate* unmanaged<nint, pb_buf*, int> sample_drain;
    public delegate* unmanaged<nint, int> sample_now;
    public delegate* unmanaged<long*, long*, void> clock;
    public delegate* unmanaged<void> sample_wrap_xs;

    public delegate* unmanaged<byte*, delegate* unmanaged<nint, pb_buf*, int>, void> client_configure;
    public delegate* unmanaged<nint, nint, ulong> client_token;
    public delegate* unmanaged<delegate* unmanaged<void>, void> sample_on_exec;
    public delegate* unmanaged<nint, byte*, int> interrupt;
}

internal static unsafe class PerlNative
{
    public const uint PB_ABI_VERSION = 4;

    public const int PB_OK = 0;
    public const int PB_DIED = 1;
    public const int PB_EXITED = 2;
    public const int PB_ERROR = -1;

    public const byte PB_T_UNDEF = 0;
    public const byte PB_T_IV = 1;
    public const byte PB_T_UV = 2;
    public const byte PB_T_NV = 3;
    public const byte PB_T_STR = 4;
    public const byte PB_T_BYTES = 5;
    public const byte PB_T_ARRAY = 6;
    public const byte PB_T_HASH = 7;
    public const byte PB_T_REF = 8;
    public const byte PB_T_BOOL = 9;

    public const int RTLD_NOW = 0x2;
    public const int RTLD_GLOBAL = 0x100;

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    public static extern nint dlopen(byte* file, int mode);

    [DllImport("libc.so.6", EntryPoint = "dlerror")]
    public static extern byte* dlerror();

    [DllImport("libc.so.6", EntryPoint = "execve")]
    public static extern int execve(byte* path, byte** argv, byte** envp);

    [DllImport("libc.so.6", EntryPoint = "gettid")]
    public static extern int gettid();

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    public static extern int setenv(byte* name, byte* value, int overwrite);

    [DllImport("libc.so.6", EntryPoint = "getenv")]
    public static extern byte* getenv(byte* name);

    [DllImport("libc.so.6", EntryPoint = "signal")]
    public static extern nint signal(int signum, nint handler);
}
