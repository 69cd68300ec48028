namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>Sentry's data categories for rate limits and client reports (spec §5).</summary>
public static class DataCategory
{
    public const string Error = "error";
    public const string Transaction = "transaction";
    public const string Profile = "profile";
    public const string ProfileChunk = "profile_chunk";
    public const string ProfileDuration = "profile_duration";
    public const string Internal = "internal";
    public const string Default = "default";
    public const string Span = "span";

    /// <summary>The categories a limit may name that this SDK knows; a limit naming only others is ignored.</summary>
    public static readonly IReadOnlySet<string> Known = new HashSet<string>
    {
        Error, Transaction, Profile, ProfileChunk, ProfileDuration, Internal, Default, Span,
        "profile_backend", "profile_chunk_ui", "profile_duration_ui", "attachment", "session", "security",
        "monitor", "replay", "user_report", "log_item", "log_byte", "feedback", "metric_bucket",
    };

    /// <summary>The item type's category [sentry-python envelope.py data_category].</summary>
    public static string OfItem(string itemType) => itemType switch
    {
        "event" => Error,
        "transaction" => Transaction,
        "profile" => Profile,
        "profile_chunk" => ProfileChunk,
        "client_report" => Internal,
        "span" => Span,
        _ => Default,
    };

    /// <summary>The limit categories that stop an item: its own, plus profile_duration for chunks (spec §5).</summary>
    public static IEnumerable<string> LimitedBy(string itemType)
    {
        var own = OfItem(itemType);
        yield return own;
        if (own == Profile)
            yield return "profile_backend";
        if (own == ProfileChunk)
            yield return ProfileDuration;
    }
}
