using PerlSentry.Engine.Profiling;

namespace PerlSentry.Engine.Tests.Profiling;

/// <summary>A small hand-made profile: main → work → (fib ×3 | nap ×1), thread 7.</summary>
internal static class StoreFixture
{
    public static readonly ProfileFrame Main = new("main", "main", "app.pl", "/srv/app.pl", 9, true);
    public static readonly ProfileFrame Work = new("main::work", "main", "app.pl", "/srv/app.pl", 4, true);
    public static readonly ProfileFrame Fib = new("main::fib", "main", "app.pl", "/srv/app.pl", 1, true);
    public static readonly ProfileFrame Nap = new("POSIX::nap", "POSIX", "/usr/lib/POSIX.pm", "/usr/lib/POSIX.pm", 2, false);

    public static ProfileStore Make()
    {
        var store = new ProfileStore { Interval = TimeSpan.FromMilliseconds(10) };
        store.NameThread(7, "main");
        store.Add([Fib, Work, Main], 7, 1_000, 2);
        store.Add([Fib, Work, Main], 7, 2_000, 1);
        store.Add([Nap, Work, Main], 7, 3_000, 1);
        return store;
    }
}
