using System.Text;

namespace Hoard.Abstractions.IO;

/// <summary>
/// Writes the files that hold secrets (keys, guest-info, admin-openrc, instance passwords): mode 0600 from
/// the first byte, flushed to disk, and renamed into place, so no reader and no crash sees half a file.
/// </summary>
public static class PrivateFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Writes <paramref name="content"/>; with <paramref name="overwrite"/> false keeps an existing file and returns false.</summary>
    public static bool Write(string path, ReadOnlySpan<byte> content, bool overwrite = true)
    {
        if (!overwrite && File.Exists(path))
        {
            return false;
        }

        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly }))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite);
            return true;
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            // Lost a race with another writer of the same file: theirs stands.
            return false;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public static bool Write(string path, string content, bool overwrite = true) =>
        Write(path, Encoding.UTF8.GetBytes(content), overwrite);

    public static Task<bool> WriteAsync(string path, string content, bool overwrite, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Write(path, content, overwrite));
    }

    /// <summary>The file's text trimmed, or null when it does not exist or is blank.</summary>
    public static async Task<string?> ReadTrimmedAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var text = (await File.ReadAllTextAsync(path, cancellationToken)).Trim();
            return text.Length == 0 ? null : text;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
