using System.Diagnostics;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.Redis;

/// <summary>Finds the redis-server executable and asks it its version.</summary>
internal static partial class RedisServerBinary
{
    /// <summary>Names an explicit redis-server; when set, nothing else is searched.</summary>
    public const string OverrideVariable = "HOARD_REDIS_SERVER";

    public const string DefaultPath = "/usr/bin/redis-server";

    private static readonly TimeSpan VersionTimeout = TimeSpan.FromSeconds(10);

    /// <summary>HOARD_REDIS_SERVER, else redis-server on PATH, else /usr/bin/redis-server; null when none exists.</summary>
    public static string? Locate()
    {
        var configured = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return IsExecutable(configured) ? Path.GetFullPath(configured) : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, "redis-server");
            if (IsExecutable(candidate))
            {
                return Path.GetFullPath(candidate);
            }
        }

        return IsExecutable(DefaultPath) ? DefaultPath : null;
    }

    /// <summary>Runs <c>redis-server --version</c>; null when it cannot be run or says nothing we understand.</summary>
    public static DatastoreVersionInfo? QueryVersion(string serverPath)
    {
        try
        {
            var start = new ProcessStartInfo(serverPath)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.ArgumentList.Add("--version");
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(VersionTimeout))
            {
                process.Kill(entireProcessTree: true);
                return null;
            }

            return output.Wait(VersionTimeout) ? ParseVersion(output.Result) : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Reads "Redis server v=7.0.15 sha=..." as name "7.0", version "7.0.15".</summary>
    public static DatastoreVersionInfo? ParseVersion(string versionOutput)
    {
        var match = VersionPattern().Match(versionOutput);
        return match.Success
            ? new DatastoreVersionInfo($"{match.Groups["major"].Value}.{match.Groups["minor"].Value}", match.Groups["full"].Value)
            : null;
    }

    private static bool IsExecutable(string path) =>
        File.Exists(path)
        && !OperatingSystem.IsWindows()
        && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    [GeneratedRegex(@"\bv=(?<full>(?<major>\d+)\.(?<minor>\d+)\.\d+)\b", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();
}
