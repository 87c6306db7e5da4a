using System.Diagnostics;

namespace Hoard.Datastores.Redis.Tests.Support;

/// <summary>Finds the real programs the integration tests run, and runs them with a deadline.</summary>
internal static class TestBinaries
{
    /// <summary>redis-server as the plugin finds it (HOARD_REDIS_SERVER, PATH, /usr/bin); other names on PATH or in /usr/bin.</summary>
    public static string? Find(string name)
    {
        if (name == "redis-server")
        {
            return RedisServerBinary.Locate();
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/bin")
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>The binary's path; under CI=true a missing one fails the test with this message.</summary>
    public static string Require(string name) =>
        Find(name) ?? throw new InvalidOperationException(
            $"{name} is not installed (apt-get install redis-server); tests that need it fail under CI=true instead of skipping");

    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(string name, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Require(name))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().DefaultTimeout();
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output.DefaultTimeout(), await errors.DefaultTimeout());
    }
}
