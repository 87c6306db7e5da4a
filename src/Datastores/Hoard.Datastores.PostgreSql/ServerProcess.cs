using System.Globalization;
using System.Text;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.PostgreSql;

/// <summary>What PostgreSQL's lock file (postmaster.pid) says: its pid, status and shared memory segment.</summary>
/// <param name="Status">"starting", "stopping", "ready" or "standby"; empty before the postmaster wrote it.</param>
/// <param name="SharedMemoryId">The System V segment whose attachments tell whether old server processes are alive.</param>
internal sealed record LockFile(int Pid, string Status, int? SharedMemoryId)
{
    public bool IsReady => Status is "ready" or "standby";
}

/// <summary>
/// Reads postmaster.pid and recognises an instance's postmaster in /proc (signals: Signals). The server is not the agent's
/// child (it runs in a session of its own and outlives the agent), so this is all the agent has.
/// </summary>
/// <remarks>Called for every instance every ~500 ms, so it reads little and allocates little.</remarks>
internal static class ServerProcess
{
    /// <summary>Reads postmaster.pid; null when there is none (or it is not one yet).</summary>
    public static LockFile? TryReadLockFile(string pidFile)
    {
        // Checking first spares the common "stopped" case an exception.
        if (!File.Exists(pidFile))
        {
            return null;
        }

        Span<byte> buffer = stackalloc byte[1024];
        int read;
        try
        {
            using var handle = File.OpenHandle(pidFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            read = RandomAccess.Read(handle, buffer, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // Lines: pid, data directory, start time, port, socket directory, listen address, "key shmid", status.
        var lines = Encoding.UTF8.GetString(buffer[..read]).Split('\n');
        if (!int.TryParse(lines[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            return null;
        }

        int? shmid = null;
        if (lines.Length > 6 && lines[6].Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var id]
            && int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            shmid = parsed;
        }

        return new LockFile(pid, lines.Length > 7 ? lines[7].Trim() : string.Empty, shmid);
    }

    /// <summary>
    /// Whether <paramref name="pid"/> is a live postmaster of <paramref name="dataDirectory"/>: its command line
    /// runs a postgres binary with <c>-D DATA</c>. That guards against pid reuse; a zombie (empty command line)
    /// counts as dead. Also true for the moments the launch is still setsid or setpriv, whose command lines end
    /// in the same postgres invocation.
    /// </summary>
    public static bool IsInstanceServer(int pid, string dataDirectory)
    {
        Span<byte> cmdline = stackalloc byte[4096];
        if (!ProcFiles.TryRead(pid, "cmdline", cmdline, out var length))
        {
            return false;
        }

        var maxBytes = Encoding.UTF8.GetMaxByteCount(dataDirectory.Length);
        Span<byte> data = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        data = data[..Encoding.UTF8.GetBytes(dataDirectory, data)];

        // Arguments are NUL-separated: look for a postgres binary, then "-D" followed by exactly the data directory.
        ReadOnlySpan<byte> rest = cmdline[..length];
        var runsPostgres = false;
        var previousWasD = false;
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)0);
            var token = end < 0 ? rest : rest[..end];
            if (previousWasD && token.SequenceEqual(data))
            {
                return runsPostgres;
            }

            runsPostgres |= token.SequenceEqual("postgres"u8) || token.EndsWith("/postgres"u8);
            previousWasD = token.SequenceEqual("-D"u8);
            rest = end < 0 ? [] : rest[(end + 1)..];
        }

        return false;
    }

    /// <summary>Whether a process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            // "pid (comm) S ...": the state follows the last ')', since comm may hold anything.
            var stat = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/stat"));
            var end = stat.LastIndexOf(')');
            return end > 0 && end + 2 < stat.Length && stat[end + 2] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether processes are still attached to System V segment <paramref name="shmid"/>: PostgreSQL's own
    /// interlock against old server processes of a data directory (backends of a killed postmaster).
    /// </summary>
    public static bool IsSharedMemoryInUse(int shmid)
    {
        try
        {
            // key shmid perms size cpid lpid nattch ...
            foreach (var line in File.ReadLines("/proc/sysvipc/shm").Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 6 && fields[1] == shmid.ToString(CultureInfo.InvariantCulture))
                {
                    return fields[6] != "0";
                }
            }

            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Cannot tell: assume in use, so nothing is removed on a guess.
            return true;
        }
    }
}
