using System.Globalization;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// MariaDB's names as Trove's MySQL models have them (trove/common/db/mysql/models.py), a little stricter where
/// Trove lets through what only causes trouble (whitespace in names, host names that MariaDB never matches).
/// </summary>
internal static partial class MariaDbSchema
{
    /// <summary>The account the agent itself connects as (Trove's ADMIN_USER_NAME).</summary>
    public const string AdminUser = "os_admin";

    /// <summary>
    /// The admin account's host. The agent runs beside its instances and connects over loopback, which the kernel
    /// sends from 127.0.0.1 whatever 127.x.y.z the instance listens on; with skip-name-resolve that is the host.
    /// </summary>
    public const string AdminHost = "127.0.0.1";

    /// <summary>The user enable_root creates, as Trove does: root@'%'.</summary>
    public const string RootUser = "root";

    public const string AnyHost = "%";

    public const int MaxDatabaseNameLength = 64;

    /// <summary>Trove's limit (MySQL 5's); MariaDB itself takes 80.</summary>
    public const int MaxUserNameLength = 16;

    /// <summary>
    /// Trove's ignore_users for [mariadb], plus accounts the engine itself keeps: mariadb.sys (the locked definer
    /// of the sys schema and of the mysql.user view) and PUBLIC (10.11's role of every account).
    /// </summary>
    public static readonly IReadOnlySet<string> ReservedUsers =
        new HashSet<string>([AdminUser, RootUser, "mariadb.sys", "PUBLIC"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Trove's ignore_dbs for [mariadb], plus sys (MariaDB 10.11 installs it, as MySQL does).</summary>
    public static readonly IReadOnlySet<string> ReservedDatabases =
        new HashSet<string>(["mysql", "information_schema", "performance_schema", "sys"], StringComparer.OrdinalIgnoreCase);

    public static SchemaRules Rules { get; } = new()
    {
        SupportsDatabases = true,
        SupportsUsers = true,
        SupportsHosts = true,
        DefaultHost = AnyHost,
        DatabaseName = new NameRule
        {
            Kind = "database name",
            MaxLength = MaxDatabaseNameLength,
            Pattern = DatabaseNamePattern(),
            PatternHelp = "at least 2 characters: letters, digits, _ and -, with ?, # or @ allowed inside",
            Reserved = ReservedDatabases,
        },
        UserName = new NameRule
        {
            Kind = "user name",
            MaxLength = MaxUserNameLength,
            Pattern = UserNamePattern(),
            PatternHelp = "letters, digits and the characters _ . - @ # $ (at least one letter or digit)",
            Reserved = ReservedUsers,
        },
        MinPasswordLength = 1,
        MaxPasswordLength = 255,
        CheckHost = CheckHost,
        CheckCharacterSet = CheckCharacterSet,
    };

    /// <summary>
    /// Null when <paramref name="host"/> is a host part MariaDB matches against a client's address: <c>%</c>,
    /// an IPv4 address whose parts may hold <c>%</c> wildcards (<c>10.0.%</c>), or an address/netmask
    /// (<c>10.0.0.0/255.255.255.0</c>). Trove requires valid IPs (hostname_require_valid_ip); names are
    /// never resolved here (skip-name-resolve), so a name could never match anyway.
    /// </summary>
    public static string? CheckHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host == AnyHost)
        {
            return null;
        }

        var match = HostPattern().Match(host);
        if (!match.Success)
        {
            return $"'{Shorten(host)}' is not a valid host: use %, an IPv4 address with optional % wildcards, or address/netmask.";
        }

        var parts = match.Groups["part"].Captures.Select(c => c.Value).ToList();
        if (parts.Any(p => int.Parse(p.Replace('%', '1'), CultureInfo.InvariantCulture) > 255))
        {
            return $"'{host}' is not a valid host: each part of an address is at most 255.";
        }

        if (match.Groups["mask"].Success)
        {
            if (parts.Count != 4 || parts.Any(p => p.Contains('%', StringComparison.Ordinal)))
            {
                return $"'{host}' is not a valid host: a netmask needs a whole address without wildcards.";
            }

            var mask = match.Groups["mask"].Value.Split('.').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
            if (mask.Any(p => p > 255))
            {
                return $"'{host}' is not a valid host: the netmask is not an IPv4 address.";
            }
        }

        return null;
    }

    /// <summary>Null when the character set and collation (either may be absent) are MariaDB's and belong together.</summary>
    public static string? CheckCharacterSet(DatabaseSpec database)
    {
        ArgumentNullException.ThrowIfNull(database);
        string? characterSet = null;
        if (database.CharacterSet is { } requested)
        {
            characterSet = MariaDbCollations.ResolveCharacterSet(requested);
            if (characterSet is null)
            {
                return $"'{Shorten(requested)}' is not a valid character set.";
            }
        }

        if (database.Collation is { } collation)
        {
            var owner = MariaDbCollations.CharacterSetOfCollation(collation);
            if (owner is null)
            {
                return $"'{Shorten(collation)}' is not a valid collation.";
            }

            if (characterSet is not null && !string.Equals(owner, characterSet, StringComparison.OrdinalIgnoreCase))
            {
                return $"'{collation}' is not a valid collation for character set '{database.CharacterSet}'.";
            }
        }

        return null;
    }

    private static string Shorten(string s) => s.Length > 64 ? s[..61] + "..." : s;

    // Trove's ^[A-Za-z0-9_-]+[\s\?\#\@]*[A-Za-z0-9_-]+$ without the whitespace (a name with a space only breaks clients).
    [GeneratedRegex(@"^[A-Za-z0-9_-]+[?#@]*[A-Za-z0-9_-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex DatabaseNamePattern();

    // Trove refuses only quotes, ; ` , / \ and edge whitespace; Hoard keeps to characters no shell, URL or SQL
    // tool mangles. '@' is allowed, as in Trove: the API splits name@host on the last '@'.
    [GeneratedRegex(@"^(?=.*[A-Za-z0-9])[A-Za-z0-9_.@#$-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex UserNamePattern();

    [GeneratedRegex(@"^(?<part>[0-9%]{1,3})(\.(?<part>[0-9%]{1,3})){0,3}(/(?<mask>[0-9]{1,3}(\.[0-9]{1,3}){3}))?$", RegexOptions.CultureInvariant)]
    private static partial Regex HostPattern();
}
