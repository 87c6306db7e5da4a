using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.Redis;

/// <summary>Finds the redis-server executable and asks it its version.</summary>
internal static partial class RedisServerBinary
{
    /// <summary>Names an explicit redis-server; when set, nothing else is searched.</summary>
    public const string OverrideVariable = "HOARD_REDIS_SERVER";

    public const string DefaultPath = "/usr/bin/redis-server";

    /// <summary>HOARD_REDIS_SERVER, else redis-server on PATH, else /usr/bin/redis-server; null when none exists.</summary>
    public static string? Locate()
    {
        var configured = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Executables.IsExecutable(configured) ? Path.GetFullPath(configured) : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, "redis-server");
            if (Executables.IsExecutable(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }

        return Executables.IsExecutable(DefaultPath) ? DefaultPath : null;
    }

    /// <summary>Runs <c>redis-server --version</c>; null when it cannot be run or says nothing we understand.</summary>
    public static DatastoreVersionInfo? QueryVersion(string serverPath) =>
        Executables.ReadVersionOutput(serverPath, "--version") is { } output ? ParseVersion(output) : null;

    /// <summary>Reads "Redis server v=7.0.15 sha=..." as name "7.0", version "7.0.15".</summary>
    public static DatastoreVersionInfo? ParseVersion(string versionOutput)
    {
        var match = VersionPattern().Match(versionOutput);
        return match.Success
            ? new DatastoreVersionInfo($"{match.Groups["major"].Value}.{match.Groups["minor"].Value}", match.Groups["full"].Value)
            : null;
    }

    [GeneratedRegex(@"\bv=(?<full>(?<major>\d+)\.(?<minor>\d+)\.\d+)\b", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();
}
