using System.Globalization;

namespace PerlSentry.Bench;

/// <summary>CPU time from <c>/proc/…/stat</c> (a process's or a thread's), in clock ticks.</summary>
internal static class ProcStat
{
    /// <summary>USER_HZ: how many of /proc's clock ticks make a second on Linux.</summary>
    public const double TicksPerSecond = 100;

    /// <summary>User plus system CPU of the stat file at <paramref name="path"/>.</summary>
    public static long Ticks(string path)
    {
        var stat = File.ReadAllText(path);
        // After "pid (comm) ": comm may hold spaces and parentheses, so the fields start after the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }
}
