namespace Hoard.Abstractions.Backups;

/// <summary>What storage keeps beside a backup's bytes (<c>metadata.json</c>), from the <see cref="SealedBackup"/> and its source.</summary>
/// <param name="Size">Stored bytes.</param>
/// <param name="Sha256">SHA-256 (lowercase hex) over the stored bytes.</param>
/// <param name="Datastore">The datastore it was taken from, e.g. "redis".</param>
/// <param name="Version">That datastore's version.</param>
/// <param name="PlaintextSize">Bytes before compression and encryption.</param>
/// <param name="KeyId">The <see cref="BackupKey.Id"/> it is encrypted with.</param>
/// <param name="Created">When the backup was taken.</param>
/// <param name="ParentId">For an incremental backup, the backup it builds on.</param>
/// <param name="ResumePoint">Where an incremental backup on top of this one starts (the engine's own notation: a
/// PostgreSQL WAL position, a MariaDB LSN); none for engines without incremental backups.</param>
public sealed record BackupMetadata(
    long Size, string Sha256, string Datastore, string Version, long PlaintextSize, string KeyId, DateTimeOffset Created, string? ParentId = null, string? ResumePoint = null)
{
    public static BackupMetadata From(SealedBackup sealedBackup, string datastore, string version, DateTimeOffset created, string? parentId = null, string? resumePoint = null)
    {
        ArgumentNullException.ThrowIfNull(sealedBackup);
        return new BackupMetadata(
            sealedBackup.StoredBytes, sealedBackup.Sha256, datastore, version, sealedBackup.PlaintextBytes, sealedBackup.KeyId, created, parentId, resumePoint);
    }
}

/// <summary>
/// A backup being written: bytes go to <see cref="Stream"/>, and nothing is a backup until <see cref="CommitAsync"/>
/// has made it durable and put it in place. Disposing without committing discards it; a process that dies first
/// leaves only a partial file that storage never reads as a backup.
/// </summary>
public interface IBackupWrite : IAsyncDisposable
{
    string BackupId { get; }

    /// <summary>Where the sealed bytes go.</summary>
    Stream Stream { get; }

    /// <summary>Flushes the bytes to durable storage, records <paramref name="metadata"/>, and puts the backup in
    /// place atomically; returns its location (a URI <see cref="IBackupStorage.OpenReadAsync(Uri, CancellationToken)"/> takes).</summary>
    Task<Uri> CommitAsync(BackupMetadata metadata, CancellationToken cancellationToken);
}

/// <summary>
/// Where backups are kept, chosen by a connection string (<see cref="BackupStorageConnection"/>). Ids are safe path
/// segments (letters, digits, '-'); any other id is an <see cref="ArgumentException"/>.
/// </summary>
public interface IBackupStorage
{
    /// <summary>Starts writing backup <paramref name="backupId"/>; fails if it is already committed.</summary>
    Task<IBackupWrite> BeginWriteAsync(string backupId, CancellationToken cancellationToken);

    /// <summary>The committed backup's stored bytes; <see cref="FileNotFoundException"/> when there is none.</summary>
    Task<Stream> OpenReadAsync(string backupId, CancellationToken cancellationToken);

    /// <summary>The stored bytes at a location <see cref="IBackupWrite.CommitAsync"/> returned from this storage.</summary>
    Task<Stream> OpenReadAsync(Uri location, CancellationToken cancellationToken);

    /// <summary>Whether backup <paramref name="backupId"/> is committed.</summary>
    Task<bool> ExistsAsync(string backupId, CancellationToken cancellationToken);

    /// <summary>The committed backup's metadata, or null when there is none.</summary>
    Task<BackupMetadata?> ReadMetadataAsync(string backupId, CancellationToken cancellationToken);

    /// <summary>Removes the backup and everything of it; nothing happens when it is already gone.</summary>
    Task DeleteAsync(string backupId, CancellationToken cancellationToken);

    /// <summary>Removes what abandoned writes of <paramref name="backupId"/> left, keeping a committed backup.</summary>
    Task CleanUpPartialAsync(string backupId, CancellationToken cancellationToken);
}
