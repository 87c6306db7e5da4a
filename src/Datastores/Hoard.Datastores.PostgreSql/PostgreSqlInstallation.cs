using System.Globalization;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.PostgreSql;

/// <summary>The programs of one installed PostgreSQL version (Debian keeps each in /usr/lib/postgresql/MAJOR/bin).</summary>
internal sealed record PostgreSqlBinaries(string VersionName, string BinDirectory)
{
    public string Postgres => Path.Combine(BinDirectory, "postgres");

    public string Initdb => Path.Combine(BinDirectory, "initdb");

    public string BaseBackup => Path.Combine(BinDirectory, "pg_basebackup");
}

/// <summary>Finds the installed PostgreSQL versions and the binaries of the one an instance asks for.</summary>
internal static partial class PostgreSqlInstallation
{
    public const string DefaultRoot = "/usr/lib/postgresql";

    /// <summary>Every ROOT/*/bin/postgres that answers --version, newest first.</summary>
    public static IReadOnlyList<DatastoreVersionInfo> Discover(string root)
    {
        if (!Directory.Exists(root))
        {
            return [];
        }

        var found = new List<(Version Order, DatastoreVersionInfo Info)>();
        foreach (var directory in Directory.EnumerateDirectories(root))
        {
            var postgres = Path.Combine(directory, "bin", "postgres");
            if (Executables.IsExecutable(postgres) && QueryVersion(postgres) is { } info && Version.TryParse(info.Version, out var order))
            {
                found.Add((order, info));
            }
        }

        return [.. found.OrderByDescending(f => f.Order).Select(f => f.Info)];
    }

    /// <summary>The binaries of version <paramref name="versionName"/> ("15"); throws when it is not installed.</summary>
    public static PostgreSqlBinaries Locate(string root, string versionName)
    {
        // The name becomes a path: only a version number may get there.
        if (!VersionNamePattern().IsMatch(versionName))
        {
            throw new ArgumentException($"'{versionName}' is not a PostgreSQL version name (like 15)", nameof(versionName));
        }

        var binaries = new PostgreSqlBinaries(versionName, Path.Combine(root, versionName, "bin"));
        if (!Executables.IsExecutable(binaries.Postgres) || !Executables.IsExecutable(binaries.Initdb))
        {
            throw new InvalidOperationException($"PostgreSQL {versionName} is not installed here: {binaries.Postgres} or {binaries.Initdb} is missing");
        }

        return binaries;
    }

    /// <summary>Runs <c>postgres --version</c>; null when it cannot be run or says nothing we understand.</summary>
    public static DatastoreVersionInfo? QueryVersion(string postgres) =>
        Executables.ReadVersionOutput(postgres, "--version") is { } output ? ParseVersion(output) : null;

    /// <summary>
    /// Reads "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" as name "15", version "15.18".
    /// Before 10, PostgreSQL's major version had two parts: "9.6.24" is name "9.6".
    /// </summary>
    public static DatastoreVersionInfo? ParseVersion(string versionOutput)
    {
        var match = VersionPattern().Match(versionOutput);
        if (!match.Success)
        {
            return null;
        }

        var major = int.Parse(match.Groups["major"].ValueSpan, CultureInfo.InvariantCulture);
        var name = major >= 10 ? match.Groups["major"].Value : $"{match.Groups["major"].Value}.{match.Groups["minor"].Value}";
        return new DatastoreVersionInfo(name, match.Groups["full"].Value);
    }

    [GeneratedRegex(@"\(PostgreSQL\) (?<full>(?<major>\d+)\.(?<minor>\d+)(\.\d+)?)", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^\d{1,3}(\.\d{1,3})?\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionNamePattern();
}
