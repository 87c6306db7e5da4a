using System.Buffers;
using System.Text.Json;
using Hoard.Abstractions.IO;

namespace Hoard.Abstractions.Backups;

/// <summary>
/// Backups in a local directory, one folder per backup id: <c>&lt;root&gt;/&lt;id&gt;/backup.hbk</c> and
/// <c>metadata.json</c>. Folders are 0700 and files 0600. A write goes to a <c>.partial</c> file, which commit fsyncs
/// and renames into place after the metadata is written, so <c>backup.hbk</c> exists only for a complete backup.
/// </summary>
public sealed class FileBackupStorage : IBackupStorage
{
    public const string BackupFileName = "backup.hbk";
    public const string MetadataFileName = "metadata.json";
    public const string PartialSuffix = ".partial";

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const int MaxIdLength = 128;
    private static readonly SearchValues<char> IdCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-");

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public FileBackupStorage(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        if (!Path.IsPathFullyQualified(root))
        {
            throw new ArgumentException($"Backup storage root '{root}' must be an absolute path.", nameof(root));
        }

        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
    }

    public string Root { get; }

    /// <summary>The directory a <c>file:///absolute/path</c> URI names.</summary>
    public static string RootOf(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsFile || !string.IsNullOrEmpty(uri.Host) || !uri.IsAbsoluteUri || !Path.IsPathFullyQualified(uri.LocalPath))
        {
            throw new ArgumentException($"'{uri.OriginalString}' is not a local file URI with an absolute path, such as file:///var/lib/hoard/backups.", nameof(uri));
        }

        return uri.LocalPath;
    }

    /// <summary>Refuses ids that are not one safe path segment.</summary>
    public static void ValidateId(string backupId)
    {
        ArgumentNullException.ThrowIfNull(backupId);
        if (backupId.Length is 0 or > MaxIdLength || backupId.AsSpan().ContainsAnyExcept(IdCharacters))
        {
            throw new ArgumentException(
                $"Backup id '{backupId}' is not allowed: ids are 1 to {MaxIdLength} letters, digits and '-'.", nameof(backupId));
        }
    }

    public Task<IBackupWrite> BeginWriteAsync(string backupId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var folder = FolderOf(backupId);
        EnsureDirectory(Root);
        EnsureDirectory(folder);
        if (File.Exists(Path.Combine(folder, BackupFileName)))
        {
            throw new IOException($"Backup {backupId} is already stored; delete it before writing it again.");
        }

        // A unique name: a writer that died and one that retries do not share a file.
        var partial = Path.Combine(folder, $"{BackupFileName}.{Guid.NewGuid():N}{PartialSuffix}");
        var stream = new FileStream(partial, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = PrivateFile.OwnerOnly,
            Options = FileOptions.Asynchronous,
            BufferSize = 0,
        });
        return Task.FromResult<IBackupWrite>(new FileBackupWrite(this, backupId, folder, partial, stream));
    }

    public Task<Stream> OpenReadAsync(string backupId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(OpenRead(Path.Combine(FolderOf(backupId), BackupFileName)));
    }

    public Task<Stream> OpenReadAsync(Uri location, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Path.GetFullPath(RootOf(location));
        var folder = Path.GetDirectoryName(path);
        if (Path.GetFileName(path) != BackupFileName || folder is null || Path.GetDirectoryName(folder) != Root)
        {
            throw new ArgumentException($"'{location}' is not a backup location in {Root}.", nameof(location));
        }

        ValidateId(Path.GetFileName(folder));
        return Task.FromResult(OpenRead(path));
    }

    public Task<bool> ExistsAsync(string backupId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(File.Exists(Path.Combine(FolderOf(backupId), BackupFileName)));
    }

    public async Task<BackupMetadata?> ReadMetadataAsync(string backupId, CancellationToken cancellationToken)
    {
        var folder = FolderOf(backupId);
        if (!File.Exists(Path.Combine(folder, BackupFileName)))
        {
            return null;
        }

        await using var stream = File.OpenRead(Path.Combine(folder, MetadataFileName));
        return await JsonSerializer.DeserializeAsync<BackupMetadata>(stream, Json, cancellationToken);
    }

    public Task DeleteAsync(string backupId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var folder = FolderOf(backupId);
        try
        {
            // The backup file first: once it is gone the folder is no longer a backup, whatever else fails.
            File.Delete(Path.Combine(folder, BackupFileName));
            Directory.Delete(folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }

        return Task.CompletedTask;
    }

    public Task CleanUpPartialAsync(string backupId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var folder = FolderOf(backupId);
        if (!Directory.Exists(folder))
        {
            return Task.CompletedTask;
        }

        // Also the temporary file of a metadata write that was cut short (PrivateFile's "*.tmp").
        foreach (var partial in Directory.EnumerateFiles(folder).Where(f => f.EndsWith(PartialSuffix, StringComparison.Ordinal) || f.EndsWith(".tmp", StringComparison.Ordinal)))
        {
            File.Delete(partial);
        }

        // Nothing was ever committed: leave no empty folder behind.
        if (!Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Directory.Delete(folder);
        }

        return Task.CompletedTask;
    }

    internal Uri LocationOf(string backupId) => new(Path.Combine(FolderOf(backupId), BackupFileName));

    private static Stream OpenRead(string path) =>
        new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read | FileShare.Delete,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            BufferSize = 0,
        });

    private static void EnsureDirectory(string path)
    {
        if (!Directory.Exists(path))
        {
            Directory.CreateDirectory(path, OwnerOnlyDirectory);
        }
    }

    private string FolderOf(string backupId)
    {
        ValidateId(backupId);
        return Path.Combine(Root, backupId);
    }

    private sealed class FileBackupWrite(FileBackupStorage storage, string backupId, string folder, string partial, FileStream stream)
        : IBackupWrite
    {
        private bool _committed;

        public string BackupId => backupId;

        public Stream Stream => stream;

        public async Task<Uri> CommitAsync(BackupMetadata metadata, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(metadata);
            if (_committed)
            {
                throw new InvalidOperationException($"Backup {backupId} is already committed.");
            }

            await stream.FlushAsync(cancellationToken);
            if (stream.Length != metadata.Size)
            {
                throw new InvalidOperationException($"Backup {backupId} has {stream.Length} bytes written but its metadata says {metadata.Size}.");
            }

            stream.Flush(flushToDisk: true);
            await stream.DisposeAsync();

            // Metadata first, so a backup.hbk is never without it; PrivateFile writes it 0600, fsynced, renamed in place.
            PrivateFile.Write(Path.Combine(folder, MetadataFileName), JsonSerializer.SerializeToUtf8Bytes(metadata, Json));
            File.Move(partial, Path.Combine(folder, BackupFileName), overwrite: false);
            _committed = true;
            return storage.LocationOf(backupId);
        }

        public async ValueTask DisposeAsync()
        {
            await stream.DisposeAsync();
            if (!_committed)
            {
                File.Delete(partial);
            }
        }
    }
}
