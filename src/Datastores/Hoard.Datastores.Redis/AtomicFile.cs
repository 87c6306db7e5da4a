using System.Runtime.Versioning;
using System.Text;

namespace Hoard.Datastores.Redis;

/// <summary>Writes an instance's files (mode 0600) so that no reader, nor a crash, leaves half a file.</summary>
[SupportedOSPlatform("linux")]
internal static class AtomicFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Writes through a temporary file, flushed to disk, and a rename. With <paramref name="overwrite"/>
    /// false, keeps an existing file and returns false.
    /// </summary>
    public static async Task<bool> WriteAsync(string path, string content, bool overwrite, CancellationToken cancellationToken)
    {
        if (!overwrite && File.Exists(path))
        {
            return false;
        }

        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = OwnerOnly,
            };
            await using (var stream = new FileStream(temporary, options))
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(content), cancellationToken);

                // The admin secret must not be lost while the ACL that holds its hash survives a power cut.
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
