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
    public static string PerlPath => Marshal.PtrToStringUTF8((nint)Api->perl_path)!;

    public static bool IsForkedChild => Api->is_child() != 0;

    private static pb_api* Load()
    {
        lock (Gate)
        {
            if (_api != null)
                return _api;
            var shim = LibPerlLocator.ShimPath();
            var libperl = Environment.GetEnvironmentVariable(LibPerlLocator.LibPerlVariable);
            if (!string.IsNullOrEmpty(libperl))
                OpenGlobal(libperl, $"{LibPerlLocator.LibPerlVariable}={libperl}");
            // RTLD_GLOBAL on the shim puts its dependencies, libperl among them, in the global
            // scope too: XS modules (POSIX.so, ...) are not linked to libperl and need its symbols.
            // NativeLibrary.Load would load them local, and `use POSIX` would then kill the process.
            var handle = TryOpenGlobal(shim, out var error);
            if (handle == 0)
            {
                // The shim's libperl is not where the loader looks: ask perl, then retry.
                OpenGlobal(LibPerlLocator.LibPerlPath(shim), $"libperl for {shim} ({error}); set {LibPerlLocator.LibPerlVariable}");
                handle = TryOpenGlobal(shim, out error);
                if (handle == 0)
                    throw new PerlBridgeException($"cannot load {shim}: {error}");
            }
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

    private static nint TryOpenGlobal(string path, out string? error)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        // Binding the dlerror P/Invoke calls dlsym, which clears the error: bind it first.
        PerlNative.dlerror();
        fixed (byte* p = bytes)
        {
            var h = PerlNative.dlopen(p, PerlNative.RTLD_NOW | PerlNative.RTLD_GLOBAL);
            error = h == 0 ? Marshal.PtrToStringUTF8((nint)PerlNative.dlerror()) : null;
            return h;
        }
    }

    private static void OpenGlobal(string path, string what)
    {
        if (TryOpenGlobal(path, out var error) == 0)
            throw new PerlBridgeException($"cannot load {what}: {error}");
    }
}
