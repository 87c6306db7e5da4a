using System.Text.RegularExpressions;

namespace Hoard.Abstractions.Datastores;

/// <summary>
/// What a name of one kind (a database, a user) may be on one engine: a length, a pattern, and names Hoard keeps
/// for itself or the engine (Trove's ignore_dbs / ignore_users), which can be neither created nor listed.
/// </summary>
public sealed record NameRule
{
    /// <summary>What the name is, for messages: "database name", "user name".</summary>
    public required string Kind { get; init; }

    public required int MaxLength { get; init; }

    /// <summary>Matches a whole valid name.</summary>
    public required Regex Pattern { get; init; }

    /// <summary>The pattern in words, for messages: "letters, digits and _".</summary>
    public required string PatternHelp { get; init; }

    public IReadOnlySet<string> Reserved { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Null when <paramref name="name"/> is valid, else a message that names what is wrong.</summary>
    public string? Check(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return $"The {Kind} must not be empty.";
        }

        if (name.Length > MaxLength)
        {
            return $"The {Kind} '{Shorten(name)}' is too long: at most {MaxLength} characters.";
        }

        if (!Pattern.IsMatch(name))
        {
            return $"'{Shorten(name)}' is not a valid {Kind}: use {PatternHelp}.";
        }

        return IsReserved(name) ? $"The {Kind} '{name}' is reserved." : null;
    }

    public bool IsReserved(string name) => Reserved.Contains(name);

    /// <summary>Echo enough of a hostile name to recognise it, never kilobytes of it.</summary>
    internal static string Shorten(string s) => s.Length > 64 ? s[..61] + "..." : s;
}

/// <summary>
/// A datastore's schema semantics as the API sees them: whether it has databases and users at all, whether a
/// user has a host part (MySQL/MariaDB <c>user@host</c>), and the rules names, hosts and passwords obey.
/// The control plane checks requests against these before any guest is asked, so a hostile name is a 400
/// that never reaches an engine.
/// </summary>
public sealed record SchemaRules
{
    public required bool SupportsDatabases { get; init; }

    public bool SupportsUsers { get; init; } = true;

    /// <summary>Users have a host part (<c>name@host</c>); false for PostgreSQL and Redis.</summary>
    public bool SupportsHosts { get; init; }

    /// <summary>The host a user gets when the request names none (MySQL's <c>%</c>); null without hosts.</summary>
    public string? DefaultHost { get; init; }

    /// <summary>The host a user is created with: the one given, else <see cref="DefaultHost"/> where users have hosts.</summary>
    public string? HostOrDefault(string? host) => SupportsHosts ? host ?? DefaultHost : host;

    /// <summary>Null when the datastore has no databases.</summary>
    public NameRule? DatabaseName { get; init; }

    public required NameRule UserName { get; init; }

    public int MinPasswordLength { get; init; } = 1;

    public int MaxPasswordLength { get; init; } = 128;

    /// <summary>Checks a host part; null when valid. Only used when <see cref="SupportsHosts"/>.</summary>
    public Func<string, string?> CheckHost { get; init; } = _ => null;

    /// <summary>Checks a database's character set and collation; null when valid (or when the engine takes none).</summary>
    public Func<DatabaseSpec, string?> CheckCharacterSet { get; init; } = d =>
        d.CharacterSet is null && d.Collation is null ? null : "This datastore takes no character set or collation.";

    /// <summary>Null when the password is acceptable.</summary>
    public string? CheckPassword(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (password.Length < MinPasswordLength)
        {
            return $"The password is too short: at least {MinPasswordLength} characters.";
        }

        if (password.Length > MaxPasswordLength)
        {
            return $"The password is too long: at most {MaxPasswordLength} characters.";
        }

        // Control characters break configuration files and client prompts; no engine needs them.
        return password.Any(char.IsControl) ? "The password must not contain control characters." : null;
    }
}
