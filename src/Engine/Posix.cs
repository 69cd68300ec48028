using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace PerlSentry.Engine;

/// <summary>
/// The few POSIX calls .NET does not offer (the engine's only P/Invoke declarations; the bridge has
/// its own in PerlBridge/Native): who we are, who owns a path, who is on the other end of a socket.
/// Struct layouts are those of x86-64 glibc, the one platform this builds for.
/// </summary>
public static class Posix
{
    public static uint EffectiveUid => geteuid();

    /// <summary>Owner and mode of a path itself (not what a symlink points at).</summary>
    public readonly record struct FileStat(uint Uid, uint Mode);

    /// <summary>lstat's owner and mode (struct stat: st_mode at 24, st_uid at 28), or null when there is nothing.</summary>
    public static FileStat? Stat(string path)
    {
        var buf = new byte[256];
        return lstat(path, buf) == 0 ? new FileStat(BitConverter.ToUInt32(buf, 28), BitConverter.ToUInt32(buf, 24)) : null;
    }

    private const int SolSocket = 1, SoPeerCred = 17;

    /// <summary>The connecting process's uid (SO_PEERCRED: struct ucred { pid, uid, gid }), or null.</summary>
    public static uint? PeerUid(Socket s)
    {
        Span<byte> cred = stackalloc byte[12];
        try
        {
            return s.GetRawSocketOption(SolSocket, SoPeerCred, cred) == 12 ? BitConverter.ToUInt32(cred[4..]) : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>
    /// Fills <paramref name="buffer"/> from the kernel's random source (getrandom(2)); false when it
    /// cannot (then the caller uses RandomNumberGenerator). Not RandomNumberGenerator first: on Linux it
    /// loads and starts OpenSSL, 9.4–10.6 ms of the first id in a process here (an empty R2R program,
    /// 25 alternating runs), against 1.4 ms for this (its first call into libc included).
    /// </summary>
    public static bool FillRandom(Span<byte> buffer)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var n = getrandom(ref MemoryMarshal.GetReference(buffer[done..]), (nuint)(buffer.Length - done), 0);
            if (n <= 0)
            {
                if (n < 0 && Marshal.GetLastPInvokeError() == EINTR)
                    continue;
                return false;
            }
            done += (int)n;
        }
        return true;
    }

    private const int EINTR = 4;

    /// <summary>Starts a new session (detaches from the terminal), for a daemon.</summary>
    public static int SetSid() => setsid();

    [DllImport("libc", SetLastError = true)]
    private static extern int lstat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc")]
    private static extern int setsid();

    [DllImport("libc", SetLastError = true)]
    private static extern nint getrandom(ref byte buf, nuint count, uint flags);
}
