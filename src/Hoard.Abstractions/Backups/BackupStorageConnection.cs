namespace Hoard.Abstractions.Backups;

/// <summary>
/// Picks backup storage from its connection string (<c>[DEFAULT] backup_storage</c>): <c>file:///absolute/path</c>
/// for now; the scheme names the kind of storage.
/// </summary>
public static class BackupStorageConnection
{
    /// <summary>The connection string used when none is configured: <c>DATA_DIR/backups</c>.</summary>
    public static string Default(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        return new Uri(Path.Combine(Path.GetFullPath(dataDirectory), "backups")).AbsoluteUri;
    }

    /// <summary>The storage <paramref name="connectionString"/> names; an unknown scheme is an <see cref="ArgumentException"/>.</summary>
    public static IBackupStorage Open(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        if (!Uri.TryCreate(connectionString.Trim(), UriKind.Absolute, out var uri))
        {
            throw new ArgumentException($"backup_storage '{connectionString}' is not a URI such as file:///var/lib/hoard/backups.", nameof(connectionString));
        }

        return uri.Scheme switch
        {
            "file" => new FileBackupStorage(FileBackupStorage.RootOf(uri)),
            _ => throw new ArgumentException(
                $"backup_storage scheme '{uri.Scheme}' is unknown; supported: file (e.g. file:///var/lib/hoard/backups).", nameof(connectionString)),
        };
    }
}
