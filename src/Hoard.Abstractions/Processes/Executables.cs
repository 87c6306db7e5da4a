using System.ComponentModel;
using System.Diagnostics;

namespace Hoard.Abstractions.Processes;

/// <summary>Checks engine binaries on disk and asks them their version.</summary>
public static class Executables
{
    private static readonly TimeSpan VersionTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Whether <paramref name="path"/> is a file anyone may execute.</summary>
    public static bool IsExecutable(string path) =>
        File.Exists(path)
        && !OperatingSystem.IsWindows()
        && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="arguments"/> (its version flags) and returns what it
    /// printed on stdout; null when it cannot be run or does not answer within ten seconds.
    /// </summary>
    public static string? ReadVersionOutput(string program, params IEnumerable<string> arguments)
    {
        try
        {
            var start = new ProcessStartInfo(program)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

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

            return output.Wait(VersionTimeout) ? output.Result : null;
        }
        catch (Exception e) when (e is Win32Exception or IOException or InvalidOperationException)
        {
            return null;
        }
    }
}
