using System.Runtime.InteropServices;
using System.Text;
using PerlSentry.PerlBridge.Native;

namespace PerlSentry.PerlBridge;

/// <summary>Process-wide libperl state: loads libperl and the shim once, then hands out the API table.</summary>
internal static unsafe class PerlRuntime
{
    private static readonly Lock Gate = new();
    private static pb_api* _api;

    public static pb_api* Api
    {
        get
        {
            var api = _api;
            return api != null ? api : Load();
        }
    }

    /// <summary>The perl version the shim was built against, e.g. "5.36.0".</summary>
    public static string PerlVersion => Marshal.PtrToStringUTF8((nint)Api->perl_version)!;

    public static string ArchName => Marshal.PtrToStringUTF8((nint)Api->archname)!;

    /// <summary>The perl binary libperl belongs to (what <c>$^X</c> says in hosted code).</summary>
    public static string PerlPath => _perlPath ??= LibPerlLocator.PerlPath(LibPerlLocator.ShimPath());

    private static string? _perlPath;

    public static bool IsForkedChild => Api->is_child() != 0;

    private static pb_api* Load()
    {
        lock (Gate)
        {
            if (_api != null)
                return _api;
            var shim = LibPerlLocator.ShimPath();
            var libperl = LibPerlLocator.LibPerlPath(shim);
            // XS modules (POSIX.so, ...) are not linked to libperl: its symbols must be
            // global before anything loads them, which NativeLibrary.Load does not do.
            OpenGlobal(libperl, $"libperl ({libperl}); set {LibPerlLocator.LibPerlVariable} to the right libperl.so");
            var handle = NativeLibrary.Load(shim);
            var get = (delegate* unmanaged<pb_api*>)NativeLibrary.GetExport(handle, "pb_get_api");
            var api = get();
            if (api->abi != PerlNative.PB_ABI_VERSION || api->size != (uint)sizeof(pb_api))
                throw new PerlBridgeException(
                    $"{shim} has ABI {api->abi} (size {api->size}); this build expects {PerlNative.PB_ABI_VERSION} " +
                    $"(size {sizeof(pb_api)}): rebuild the shim.");
            var err = stackalloc byte[512];
            if (api->sys_init((nint)(delegate* unmanaged<nint, int, int, byte*, nuint, int, pb_buf*, int*, int*, int>)&SubTable.Dispatch, err, 512) != 0)
                throw new PerlBridgeException("perl initialisation failed: " + Marshal.PtrToStringUTF8((nint)err));
            _api = api;
            return api;
        }
    }

    private static void OpenGlobal(string path, string what)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            if (PerlNative.dlopen(p, PerlNative.RTLD_NOW | PerlNative.RTLD_GLOBAL) == 0)
                throw new PerlBridgeException($"cannot load {what}: {Marshal.PtrToStringUTF8((nint)PerlNative.dlerror())}");
        }
    }
}
