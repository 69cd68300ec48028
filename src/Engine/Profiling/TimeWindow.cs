namespace PerlSentry.Engine.Profiling;

/// <summary>
/// A stretch of time (Unix ns, both ends inclusive) whose samples a profiler still needs. A class, not
/// a tuple: collections and LINQ over a value type are generic code that ReadyToRun cannot hold, so
/// the first profiled transaction of a process paid for compiling it (about 1 ms, measured with
/// <c>DOTNET_JitStdOutFile</c>); over a class they share code that is already compiled.
/// </summary>
public sealed record TimeWindow(long From, long To);
