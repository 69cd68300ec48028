using System.Runtime.InteropServices;
using System.Text;
using PerlSentry.PerlBridge.Native;

namespace PerlSentry.PerlBridge;

/// <summary>Process-level settings a host needs before it runs Perl programs.</summary>
public static unsafe class HostProcess
{
    public const string WriteXorExecuteVariable = "DOTNET_EnableWriteXorExecute";

    private const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGPIPE = 13, SIGTERM = 15;

    /// <summary>
    /// With W^X on, the CLR double-maps JIT memory shared; a forked child that touches it
    /// corrupts the parent (DESIGN.md, "fork"). The setting is read only at runtime start,
    /// so when it is on this re-executes the process with it off and never returns.
    /// Returns normally when it is already off or the re-exec is impossible.
    /// </summary>
    public static void EnsureWriteXorExecuteDisabled()
    {
        if (Environment.GetEnvironmentVariable(WriteXorExecuteVariable) == "0")
            return;
        string[] argv;
        try
        {
            argv = File.ReadAllText("/proc/self/cmdline").TrimEnd('\0').Split('\0');
        }
        catch (IOException)
        {
            return;
        }
        var exe = Environment.ProcessPath;
        if (exe is null || argv.Length == 0)
            return;
        // .NET keeps its own copy of the environment: pass it to execve explicitly.
        var env = new List<string> { WriteXorExecuteVariable + "=0" };
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            if ((string)e.Key != WriteXorExecuteVariable)
                env.Add($"{e.Key}={e.Value}");
        using var args = new NativeStrings(argv);
        using var envp = new NativeStrings(env);
        using var path = new NativeStrings([exe]);
        PerlNative.execve(path.Pointers[0], args.Pointers, envp.Pointers);
        // execve returns only on failure: carry on with W^X on.
    }

    /// <summary>
    /// Replaces this process with <paramref name="path"/> (argv[0] included in <paramref name="argv"/>),
    /// keeping the environment. Returns only when that fails, with the reason.
    /// </summary>
    public static string Exec(string path, IReadOnlyList<string> argv)
    {
        var env = new List<string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            env.Add($"{e.Key}={e.Value}");
        using var args = new NativeStrings([.. argv]);
        using var envp = new NativeStrings(env);
        using var file = new NativeStrings([path]);
        PerlNative.execve(file.Pointers[0], args.Pointers, envp.Pointers);
        return Marshal.GetPInvokeErrorMessage(Marshal.GetLastSystemError());
    }

    /// <summary>
    /// Sets a variable in the process's own (C library) environment, which the interpreters read and
    /// the programs they start inherit; .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/>
    /// changes only its own copy on Unix. Call it before creating interpreters.
    /// </summary>
    public static void SetNativeEnvironment(string name, string value)
    {
        using var s = new NativeStrings([name, value]);
        PerlNative.setenv(s.Pointers[0], s.Pointers[1], 1);
    }

    /// <summary>A variable of the process's own environment (what <see cref="SetNativeEnvironment"/> set included).</summary>
    public static string? GetNativeEnvironment(string name)
    {
        using var s = new NativeStrings([name]);
        return Marshal.PtrToStringUTF8((nint)PerlNative.getenv(s.Pointers[0]));
    }

    /// <summary>
    /// Gives the signals the CLR takes over back their default action, as a process started
    /// by a shell has them under perl: SIGPIPE kills a writer to a closed pipe (and is inherited
    /// by children through exec), SIGINT/SIGTERM/SIGQUIT/SIGHUP end the program at once.
    /// </summary>
    public static void UseDefaultSignalActions()
    {
        foreach (var sig in (ReadOnlySpan<int>)[SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP])
            PerlNative.signal(sig, 0 /* SIG_DFL */);
    }
}
