using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Profiling;

/// <summary>
/// Turns the sampler's raw frames into profile frames, once per distinct frame: the package, the
/// absolute path (relative names resolved against the program's directory at start), and in_app
/// from the library directories alone (profilers with options decide again at export).
/// </summary>
public sealed class FrameResolver(IEnumerable<string> libraryDirs, string cwd)
{
    private readonly InAppRules _inApp = new(libraryDirs);
    private readonly Dictionary<PerlFrame, ProfileFrame> _cache = [];

    /// <summary>Adds samples of one thread to <paramref name="store"/>; in markers, the leaf frames <paramref name="trimLeaf"/> says are the SDK's own are dropped.</summary>
    public void AddTo(ProfileStore store, IEnumerable<PerlSample> samples, long threadId, long monoToUnixNs, Func<ProfileFrame, bool>? trimLeaf = null)
    {
        lock (_cache)
        {
            foreach (var s in samples)
            {
                var frames = new ProfileFrame[s.Frames.Length];
                for (var i = 0; i < frames.Length; i++)
                    frames[i] = Resolve(s.Frames[i]);
                var end = frames.Length;
                while (end > 1 && IsHostTopLevel(frames[end - 1]))
                    end--;
                var skip = 0;
                while (s.IsMarker && trimLeaf is not null && skip < end - 1 && trimLeaf(frames[skip]))
                    skip++;
                store.Add(skip == 0 && end == frames.Length ? frames : frames[skip..end], threadId, s.MonotonicNs + monoToUnixNs, s.IsMarker ? 0 : s.Weight);
            }
        }
    }

    /// <summary>
    /// The top level of an interpreter the host made (<c>perl -e 0</c>: <see cref="PerlSentry.PerlBridge.PerlInterpreter.Start"/>),
    /// under every call a pool or server makes into it: it says nothing, so it is left out. A program's
    /// own <c>-e</c> code is on line 1 or later.
    /// </summary>
    internal static bool IsHostTopLevel(ProfileFrame f) => f is { FileName: "-e", Line: 0 };

    private ProfileFrame Resolve(PerlFrame f)
    {
        if (_cache.TryGetValue(f, out var frame))
            return frame;
        var module = f.Name == "main" ? "main" : ProfileFrame.ModuleOf(f.Name);
        string? abs = null;
        if (f.File.Length > 0 && !f.File.StartsWith('(') && !f.File.StartsWith('-'))
            abs = Path.IsPathRooted(f.File) ? f.File : Path.GetFullPath(Path.Combine(cwd, f.File));
        frame = new ProfileFrame(f.Name, module, f.File, abs, f.Line, _inApp.IsInApp(module, f.File, abs));
        _cache[f] = frame;
        return frame;
    }
}
