using System.Globalization;
using System.Text.Unicode;
using Hoard.Abstractions.Processes;

namespace Hoard.Datastores.Redis;

/// <summary>
/// Recognises an instance's redis-server in /proc (pid file: PidFile; signals: Signals). The server is not
/// the agent's child (it daemonizes into its own session), so this is all the agent has.
/// </summary>
/// <remarks>Called for every instance every ~500 ms, so it reads into stack buffers and allocates little.</remarks>
internal static class ServerProcess
{
    /// <summary>
    /// Whether <paramref name="pid"/> is a live redis-server of the instance that serves
    /// <paramref name="address"/>:<paramref name="port"/> from <paramref name="configPath"/>.
    /// </summary>
    /// <remarks>
    /// The cmdline check guards against pid reuse after a crash. Once up, redis-server rewrites its
    /// title to "redis-server ADDRESS:PORT" (the config pins the template); just before that, its
    /// cmdline is still "redis-server CONFIG". A zombie has an empty cmdline, so a server that died
    /// but was not reaped yet counts as dead.
    /// </remarks>
    public static bool IsInstanceServer(int pid, string address, int port, string configPath)
    {
        Span<byte> cmdline = stackalloc byte[4096];
        if (!ProcFiles.TryRead(pid, "cmdline", cmdline, out var length))
        {
            return false;
        }

        ReadOnlySpan<byte> text = cmdline[..length];
        if (text.IndexOf("redis-server"u8) < 0)
        {
            return false;
        }

        Span<byte> needle = stackalloc byte[Math.Max(address.Length, configPath.Length) * 3 + 16];
        return (Utf8.TryWrite(needle, CultureInfo.InvariantCulture, $"{address}:{port}", out var written) && HasToken(text, needle[..written], " \0"u8))
            || (Utf8.TryWrite(needle, CultureInfo.InvariantCulture, $"[{address}]:{port}", out written) && HasToken(text, needle[..written], " \0"u8))
            || (Utf8.TryWrite(needle, CultureInfo.InvariantCulture, $"{configPath}", out written) && HasToken(text, needle[..written], "\0"u8));
    }

    // Whole tokens only: 127.0.0.1:6379 must not match 127.0.0.1:63790 or 127.0.0.11:6379.
    private static bool HasToken(ReadOnlySpan<byte> text, ReadOnlySpan<byte> token, ReadOnlySpan<byte> separators)
    {
        while (!text.IsEmpty)
        {
            var end = text.IndexOfAny(separators);
            if ((end < 0 ? text : text[..end]).SequenceEqual(token))
            {
                return true;
            }

            text = end < 0 ? [] : text[(end + 1)..];
        }

        return false;
    }
}
