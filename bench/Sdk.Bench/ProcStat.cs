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

    /// <summary>
    /// The time a thread has run, in ns: the first field of <c>/proc/…/task/…/schedstat</c>, which the
    /// scheduler keeps exactly. The ticks of <c>stat</c> are sampled (this kernel has
    /// CONFIG_TICK_CPU_ACCOUNTING: the whole tick goes to whoever runs when it fires), which misplaces
    /// threads that run in short bursts: a traced serve's sender read 85 µs a request from ticks where
    /// perf read 22 µs.
    /// </summary>
    public static long RunNs(string taskDir)
    {
        var schedstat = File.ReadAllText(Path.Combine(taskDir, "schedstat"));
        return long.Parse(schedstat.AsSpan(0, schedstat.IndexOf(' ')), CultureInfo.InvariantCulture);
    }

    /// <summary><see cref="RunNs"/> summed over the live threads of process <paramref name="pid"/>, by <paramref name="group"/> of each thread's name.</summary>
    public static Dictionary<string, long> RunNsByGroup(int pid, Func<string, string> group)
    {
        var sums = new Dictionary<string, long>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var name = group(File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'));
                sums[name] = sums.GetValueOrDefault(name) + RunNs(task);
            }
            catch (IOException)
            {
                // the thread ended between the listing and the read
            }
        }
        return sums;
    }
}
