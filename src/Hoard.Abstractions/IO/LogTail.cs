using System.Text;

namespace Hoard.Abstractions.IO;

/// <summary>
/// What an engine's log gained since an offset taken before a start: the part that tells why this start failed,
/// without the history of earlier ones.
/// </summary>
public static class LogTail
{
    /// <summary>The log's length now, to pass to <see cref="Since"/> later; 0 when there is no log yet.</summary>
    public static long Offset(string logFile)
    {
        var log = new FileInfo(logFile);
        return log.Exists ? log.Length : 0;
    }

    /// <summary>
    /// What <paramref name="logFile"/> gained since <paramref name="offset"/>: its first or (with
    /// <paramref name="fromEnd"/>) last <paramref name="limit"/> bytes. Empty when it cannot be read.
    /// </summary>
    public static string Since(string logFile, long offset, int limit, bool fromEnd)
    {
        try
        {
            using var log = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var length = log.Length;
            var from = offset > length ? 0 : offset;
            if (fromEnd && length - from > limit)
            {
                from = length - limit;
            }

            var buffer = new byte[(int)Math.Min(limit, length - from)];
            log.Position = from;
            log.ReadExactly(buffer);
            return Encoding.UTF8.GetString(buffer);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }
}
