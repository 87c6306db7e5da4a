using System.Globalization;

namespace Hoard.Abstractions.Processes;

/// <summary>Reads a process's files under /proc (cmdline, stat) into a caller's buffer, so liveness checks allocate little.</summary>
public static class ProcFiles
{
    /// <summary>
    /// Reads the start of /proc/<paramref name="pid"/>/<paramref name="file"/> into <paramref name="buffer"/>;
    /// false when the process is gone or the file cannot be read.
    /// </summary>
    public static bool TryRead(int pid, string file, Span<byte> buffer, out int length)
    {
        try
        {
            using var handle = File.OpenHandle(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/{file}"), FileMode.Open, FileAccess.Read);
            length = RandomAccess.Read(handle, buffer, 0);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            length = 0;
            return false;
        }
    }
}
