using System.Diagnostics;
using System.Globalization;
using System.Text.Unicode;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// Launches an instance's mariadbd in a session of its own and finds and signals it later through the agent's pid
/// file and /proc. The server is not the agent's child, so this is all the agent has.
/// </summary>
/// <remarks>Liveness is checked for every instance every ~500 ms, so it reads into stack buffers and allocates little.</remarks>
internal static class ServerProcess
{
    // "$@" is setsid(1), the server and its arguments. The backgrounded child of a non-interactive sh is not a
    // process-group leader, so setsid(1) calls setsid(2) and execs in place: $! is mariadbd's own pid, known at
    // once, long before mariadbd writes its pid file. Its session outlives the agent; init (or the nearest
    // subreaper) reaps it.
    private const string LaunchScript = "log=$1; shift; \"$@\" >>\"$log\" 2>&1 </dev/null & echo $!";

    private static readonly TimeSpan LauncherTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The token of mariadbd's command line that ties it to one instance: its own option file.</summary>
    public static string DefaultsFileArgument(string configPath) => "--defaults-file=" + configPath;

    /// <summary>
    /// Starts <paramref name="serverPath"/> detached from the agent, stdout and stderr appended to
    /// <paramref name="logFile"/>, and returns its pid.
    /// </summary>
    public static async Task<int> LaunchAsync(string serverPath, IReadOnlyList<string> arguments, string logFile, string workingDirectory, CancellationToken cancellationToken)
    {
        var setsid = Locate("setsid") ?? throw new InvalidOperationException("setsid (util-linux) is not installed; it starts servers in sessions of their own");
        var start = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in (string[])["-c", LaunchScript, "sh", logFile, setsid, serverPath, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        using var launcher = Process.Start(start) ?? throw new InvalidOperationException("could not start /bin/sh");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(LauncherTimeout);
        var output = launcher.StandardOutput.ReadToEndAsync(deadline.Token);
        var errors = launcher.StandardError.ReadToEndAsync(deadline.Token);
        await launcher.WaitForExitAsync(deadline.Token);
        var pidText = (await output).Trim();
        if (launcher.ExitCode != 0 || !int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new InvalidOperationException($"could not launch {serverPath}: exit {launcher.ExitCode}, said '{pidText} {(await errors).Trim()}'");
        }

        return pid;
    }

    /// <summary>
    /// Whether <paramref name="pid"/> is a live mariadbd started with <paramref name="configPath"/> as its option file.
    /// </summary>
    /// <remarks>
    /// The option-file check guards against pid reuse after a crash: every instance has its own. A zombie has an
    /// empty cmdline, so a server that died but was not reaped yet counts as dead.
    /// </remarks>
    public static bool IsInstanceServer(int pid, string configPath) => IsInstanceProcess(pid, configPath, launching: false);

    /// <summary>
    /// Like <see cref="IsInstanceServer"/>, but also true in the moment between the launch and mariadbd's exec, when
    /// the pid still runs sh or setsid (their command lines carry mariadbd's whole command line too).
    /// </summary>
    public static bool IsInstanceServerOrLauncher(int pid, string configPath) => IsInstanceProcess(pid, configPath, launching: true);

    private static bool IsInstanceProcess(int pid, string configPath, bool launching)
    {
        Span<byte> cmdline = stackalloc byte[4096];
        if (!ProcFiles.TryRead(pid, "cmdline", cmdline, out var length))
        {
            return false;
        }

        ReadOnlySpan<byte> text = cmdline[..length];
        var programEnd = text.IndexOf((byte)0);
        if (programEnd <= 0)
        {
            // Empty: a zombie, or (for a moment) a process in the middle of an exec, as a launch is.
            return launching && IsRunning(pid);
        }

        var program = text[..programEnd];
        if (!launching && !(program.EndsWith("/mariadbd"u8) || program.SequenceEqual("mariadbd"u8)))
        {
            return false;
        }

        Span<byte> buffer = stackalloc byte[(configPath.Length * 3) + 32];
        if (!Utf8.TryWrite(buffer, CultureInfo.InvariantCulture, $"--defaults-file={configPath}", out var written))
        {
            return false;
        }

        ReadOnlySpan<byte> needle = buffer[..written];
        var rest = text[(programEnd + 1)..];
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)0);
            if ((end < 0 ? rest : rest[..end]).SequenceEqual(needle))
            {
                return true;
            }

            rest = end < 0 ? [] : rest[(end + 1)..];
        }

        return false;
    }

    /// <summary>Whether <paramref name="pid"/> exists and is neither a zombie nor dead (the state in /proc/PID/stat).</summary>
    private static bool IsRunning(int pid)
    {
        Span<byte> stat = stackalloc byte[512];
        if (!ProcFiles.TryRead(pid, "stat", stat, out var length))
        {
            return false;
        }

        // "PID (COMM) STATE ...": COMM may hold anything, so the state follows the last ')'.
        var text = stat[..length];
        var close = text.LastIndexOf((byte)')');
        return close >= 0 && close + 2 < length && text[close + 2] is not ((byte)'Z' or (byte)'X' or (byte)'x');
    }

    /// <summary>A program on PATH, or in /usr/bin, /bin; null when there is none.</summary>
    public static string? Locate(string name)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries);
        return path.Append("/usr/bin").Append("/bin").Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }
}
