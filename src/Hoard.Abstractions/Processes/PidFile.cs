using System.Globalization;

namespace Hoard.Abstractions.Processes;

/// <summary>Reads the pid a server (or the agent on its behalf) wrote to a pid file.</summary>
/// <remarks>Liveness checks call this for every instance every ~500 ms, so it reads into a stack buffer and allocates little.</remarks>
public static class PidFile
{
    /// <summary>The pid in <paramref name="path"/>, or null when there is none (or it is not a pid).</summary>
    public static int? TryRead(string path)
    {
        // Checking first spares the common "stopped" case an exception.
        if (!File.Exists(path))
        {
            return null;
        }

        Span<byte> buffer = stackalloc byte[32];
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var read = RandomAccess.Read(handle, buffer, 0);
            ReadOnlySpan<byte> text = buffer[..read].Trim(" \t\r\n"u8);
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
