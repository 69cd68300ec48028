using System.Runtime.InteropServices;

namespace PerlSentry.Bench;

/// <summary>The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID): its cost, whatever else runs on the machine.</summary>
internal static partial class ThreadCpu
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGettime(int clock, out Timespec ts);

    public static long Ns()
    {
        ClockGettime(3, out var ts);
        return ts.Sec * 1_000_000_000 + ts.Nsec;
    }
}
