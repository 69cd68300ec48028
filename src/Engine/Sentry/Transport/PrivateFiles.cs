
namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// Folders and files the SDK keeps events in (the cache, an envelope folder) are readable by their
/// user alone: folders 0700 and files 0600 whatever the umask, and a folder that another user owns
/// is refused (events hold user data: emails, request bodies).
/// </summary>
public static class PrivateFiles
{
    private const UnixFileMode DirMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates <paramref name="dir"/> (and its missing parents) 0700; throws <see cref="UnauthorizedAccessException"/> when another user owns it.</summary>
    public static void EnsureDirectory(string dir)
    {
        if (!Directory.Exists(dir))
            Directory.CreateDirectory(dir, DirMode);
        var owner = OwnerOf(dir);
        if (owner is { } uid && uid != Posix.EffectiveUid)
            throw new UnauthorizedAccessException($"{dir} belongs to another user (uid {uid}); choose a folder of your own");
        if ((File.GetUnixFileMode(dir) & ~DirMode) != 0)
            File.SetUnixFileMode(dir, DirMode);
    }

    /// <summary>
    /// Opens a file (created 0600 whatever the umask) for <see cref="RandomAccess"/> use: no buffering.
    /// <see cref="FileShare.None"/> also locks it against other processes (.NET takes flock on Unix).
    /// </summary>
    public static FileStream Open(string path, System.IO.FileMode mode, FileAccess access, FileShare share) =>
        new(path, new FileStreamOptions
        {
            Mode = mode,
            Access = access,
            Share = share,
            BufferSize = 0,
            UnixCreateMode = mode is System.IO.FileMode.Open ? null : FileMode,
        });

    /// <summary>
    /// Writes a whole file atomically (temporary name, then rename), 0600. The temporary file is made
    /// new (<see cref="System.IO.FileMode.CreateNew"/>), not truncated: .NET truncates a
    /// <see cref="System.IO.FileMode.Create"/> file with <c>ftruncate</c> after its lock, and on ext4 a
    /// file truncated to nothing is written out to the disk at its <c>close</c> (auto_da_alloc), which took
    /// about half of the sender's CPU for an <c>envelope_dir</c> (perf, bench/RESULTS.md).
    /// </summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        var tmp = Path.Combine(Path.GetDirectoryName(path) ?? ".", "." + Path.GetFileName(path) + ".tmp");
        FileStream f;
        try
        {
            f = Open(tmp, System.IO.FileMode.CreateNew, FileAccess.Write, FileShare.None);
        }
        catch (IOException) when (File.Exists(tmp))
        {
            File.Delete(tmp);   // left by a process that died between its write and its rename
            f = Open(tmp, System.IO.FileMode.CreateNew, FileAccess.Write, FileShare.None);
        }
        using (f)
            RandomAccess.Write(f.SafeFileHandle, bytes, 0);
        File.Move(tmp, path, overwrite: true);
    }

    private static uint? OwnerOf(string path) => Posix.Stat(path)?.Uid;
}
