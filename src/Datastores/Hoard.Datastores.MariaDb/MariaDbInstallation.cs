using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.MariaDb;

/// <summary>One installed MariaDB: its server, its bootstrap tool and the version the server reports.</summary>
internal sealed partial record MariaDbInstallation(string Prefix, string ServerPath, string InstallDbPath, DatastoreVersionInfo Version)
{
    /// <summary>Colon-separated installation prefixes to search instead of the defaults (each with sbin/ or bin/mariadbd).</summary>
    public const string PrefixesVariable = "HOARD_MARIADB_PREFIXES";

    /// <summary>Debian's package, then the layouts of MariaDB's own tarballs and packages.</summary>
    public static IReadOnlyList<string> DefaultPrefixes()
    {
        var configured = Environment.GetEnvironmentVariable(PrefixesVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        var prefixes = new List<string> { "/usr", "/usr/local/mysql" };
        foreach (var root in new[] { "/opt", "/usr/local" })
        {
            if (Directory.Exists(root))
            {
                prefixes.AddRange(Directory.EnumerateDirectories(root, "mariadb*").Order(StringComparer.Ordinal));
            }
        }

        return prefixes;
    }

    /// <summary>
    /// Every installation under <paramref name="prefixes"/>, one per version name (the first prefix wins), sorted
    /// newest first. Costs a process start per prefix; callers cache the answer.
    /// </summary>
    public static IReadOnlyList<MariaDbInstallation> Discover(IEnumerable<string> prefixes)
    {
        var found = new Dictionary<string, MariaDbInstallation>(StringComparer.Ordinal);
        foreach (var prefix in prefixes)
        {
            if (Find(prefix) is { } installation)
            {
                found.TryAdd(installation.Version.Name, installation);
            }
        }

        return [.. found.Values.OrderByDescending(i => System.Version.Parse(i.Version.Version))];
    }

    private static MariaDbInstallation? Find(string prefix)
    {
        var server = new[] { "sbin/mariadbd", "bin/mariadbd" }.Select(p => Path.Combine(prefix, p)).FirstOrDefault(Executables.IsExecutable);
        var installDb = new[] { "bin/mariadb-install-db", "scripts/mariadb-install-db" }.Select(p => Path.Combine(prefix, p)).FirstOrDefault(Executables.IsExecutable);
        if (server is null || installDb is null)
        {
            return null;
        }

        return QueryVersion(server) is { } version ? new MariaDbInstallation(Path.GetFullPath(prefix), server, installDb, version) : null;
    }

    /// <summary>Runs <c>mariadbd --version</c>; null when it cannot be run or says nothing we understand.</summary>
    public static DatastoreVersionInfo? QueryVersion(string serverPath) =>
        Executables.ReadVersionOutput(serverPath, "--no-defaults", "--version") is { } output ? ParseVersion(output) : null;

    /// <summary>Reads "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu" as name "10.11", version "10.11.19".</summary>
    public static DatastoreVersionInfo? ParseVersion(string versionOutput)
    {
        var match = VersionPattern().Match(versionOutput);
        return match.Success
            ? new DatastoreVersionInfo($"{match.Groups["major"].Value}.{match.Groups["minor"].Value}", match.Groups["full"].Value)
            : null;
    }

    [GeneratedRegex(@"\bVer (?<full>(?<major>\d+)\.(?<minor>\d+)\.\d+)-MariaDB\b", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();
}
