using System.Globalization;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// How much of the machine's CPU time went idle between two looks, from the first line of
/// <c>/proc/stat</c> (Linux; elsewhere nothing is known).
/// </summary>
internal sealed class CpuIdle
{
    private long _idle = -1, _total;

    /// <summary>The idle share (0–1) since the last look; null at the first look or where <c>/proc/stat</c> is not.</summary>
    public double? SinceLastLook()
    {
        if (Read() is not var (idle, total))
            return null;
        var (lastIdle, lastTotal) = (_idle, _total);
        (_idle, _total) = (idle, total);
        return lastIdle < 0 || total <= lastTotal ? null : (double)(idle - lastIdle) / (total - lastTotal);
    }

    private static (long Idle, long Total)? Read()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var line = reader.ReadLine();
            if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
                return null;
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long total = 0, idle = 0;
            for (var i = 1; i < fields.Length && i <= 8; i++)   // user nice system idle iowait irq softirq steal
            {
                var v = long.Parse(fields[i], CultureInfo.InvariantCulture);
                total += v;
                if (i is 4 or 5)
                    idle += v;
            }
            return (idle, total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
    }
}
