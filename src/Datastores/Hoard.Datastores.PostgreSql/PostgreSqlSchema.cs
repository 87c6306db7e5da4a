using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// What database and role names may be on a Hoard PostgreSQL instance.
/// </summary>
/// <remarks>
/// Trove takes almost any name up to 63 characters (PostgreSQL's NAMEDATALEN - 1) and splices it between
/// double quotes. Hoard is stricter: ASCII letters, digits and <c>_ $ . -</c>, so a name is never a path,
/// a quote or whitespace, while <c>-</c>, <c>.</c> and capitals still need (and get) quoting.
/// Reserved: Trove's ignore_users / ignore_dbs (os_admin, postgres), Hoard's admin role (os_admin), root,
/// the templates, and the role names PostgreSQL itself refuses (public, none, current_user, ..., pg_*).
/// </remarks>
internal static partial class PostgreSqlSchema
{
    /// <summary>The agent's own superuser role, Trove's admin user name for PostgreSQL.</summary>
    public const string AdminUser = "os_admin";

    /// <summary>The superuser Trove's root enable creates.</summary>
    public const string RootUser = "root";

    /// <summary>The database the admin connects to, and users without a database of their own.</summary>
    public const string MaintenanceDatabase = "postgres";

    /// <summary>PostgreSQL truncates identifiers at NAMEDATALEN - 1 bytes; names are ASCII, so characters.</summary>
    public const int MaxNameLength = 63;

    public static readonly IReadOnlySet<string> ReservedDatabases =
        new HashSet<string>(["os_admin", "postgres", "template0", "template1"], StringComparer.OrdinalIgnoreCase);

    public static readonly IReadOnlySet<string> ReservedUsers =
        new HashSet<string>(["os_admin", "postgres", RootUser, "public", "none", "current_user", "current_role", "session_user"], StringComparer.OrdinalIgnoreCase);

    public static SchemaRules Rules { get; } = new()
    {
        SupportsDatabases = true,
        SupportsUsers = true,
        SupportsHosts = false,
        DefaultHost = null,
        DatabaseName = new NameRule
        {
            Kind = "database name",
            MaxLength = MaxNameLength,
            Pattern = DatabaseNamePattern(),
            PatternHelp = "ASCII letters, digits, _, $, . and -, starting with a letter or _",
            Reserved = ReservedDatabases,
        },
        UserName = new NameRule
        {
            Kind = "user name",
            MaxLength = MaxNameLength,
            Pattern = UserNamePattern(),
            PatternHelp = "ASCII letters, digits, _, $, . and -, starting with a letter or _ but not with pg_",
            Reserved = ReservedUsers,
        },
        MinPasswordLength = 1,
        MaxPasswordLength = 128,
        CheckCharacterSet = CheckCharacterSet,
    };

    /// <summary>
    /// Trove passes a database's character set as PostgreSQL's ENCODING and its collation as LC_COLLATE.
    /// Only their shape is checked here; whether the engine knows them is its answer (an "invalid" refusal).
    /// </summary>
    private static string? CheckCharacterSet(DatabaseSpec database)
    {
        if (database.CharacterSet is { } encoding && !EncodingPattern().IsMatch(encoding))
        {
            return $"'{Shorten(encoding)}' is not a character set: use a PostgreSQL encoding name such as UTF8 or LATIN1.";
        }

        if (database.Collation is { } collation && !CollationPattern().IsMatch(collation))
        {
            return $"'{Shorten(collation)}' is not a collation: use a locale name such as C, POSIX or C.UTF-8.";
        }

        return null;
    }

    private static string Shorten(string s) => s.Length > 64 ? s[..61] + "..." : s;

    // \z, not $: $ also matches before a trailing newline.
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_$.\-]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex DatabaseNamePattern();

    // PostgreSQL reserves role names starting with pg_ for its own roles.
    [GeneratedRegex(@"^(?![Pp][Gg]_)[A-Za-z_][A-Za-z0-9_$.\-]*\z", RegexOptions.CultureInvariant)]
    private static partial Regex UserNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9_\-]{1,32}\z", RegexOptions.CultureInvariant)]
    private static partial Regex EncodingPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.@\-]{1,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex CollationPattern();
}
