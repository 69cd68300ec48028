namespace PerlSentry.Engine.Sentry;

/// <summary>
/// A user callback (<c>before_send</c>, a sampler, an event processor) ended the program, as Perl's
/// <c>exit</c> does. Unlike a failing callback, which is logged and ignored, this unwinds the SDK's
/// call so the front end can end the program cleanly.
/// </summary>
public sealed class CallbackAbortedException(Exception inner) : Exception("the program ended inside an SDK callback", inner);
