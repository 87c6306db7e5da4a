namespace Hoard.Abstractions.Datastores;

/// <summary>
/// A datastore manager's backup strategy (the option group's backup_strategy): a consistent copy of a running instance's
/// data, and putting such a copy in place in another instance. The bytes are the engine's own format, unsealed; the
/// caller compresses, encrypts and checksums them on the way to backup storage, and checks them before a restore.
/// </summary>
public interface IDatastoreBackups
{
    /// <summary>The strategy's name, as the datastore's backup_strategy option names it (e.g. "rdb-snapshot").</summary>
    string BackupStrategy { get; }

    /// <summary>
    /// Streams a point-in-time copy of the instance's data to <paramref name="destination"/> while it keeps serving.
    /// Returns the number of bytes written.
    /// </summary>
    Task<long> BackupAsync(GuestInstance instance, Stream destination, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a prepared instance's data with a backup read from <paramref name="source"/> (written by
    /// <see cref="BackupAsync"/>), and leaves the instance serving it. What the source held before is gone.
    /// </summary>
    Task RestoreAsync(GuestInstance instance, Stream source, CancellationToken cancellationToken);
}

/// <summary>
/// A backup strategy that can also take incremental backups: only what changed since an earlier backup of the same
/// instance, which a restore applies on top of that backup's own chain.
/// </summary>
public interface IIncrementalBackups : IDatastoreBackups
{
    /// <summary>
    /// Streams a full backup (<paramref name="since"/> null) or an increment since the backup whose
    /// <see cref="BackupOutput.ResumePoint"/> <paramref name="since"/> is. Returns the bytes written and this backup's
    /// own resume point, which an incremental backup on top of it starts from. An increment that cannot be complete
    /// (what it needs is gone) fails; it never returns part of one.
    /// </summary>
    Task<BackupOutput> BackupAsync(GuestInstance instance, string? since, Stream destination, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces a prepared instance's data with a chain of backups: <paramref name="chain"/>[0] a full backup, each
    /// later one an increment on the one before it. The instance serves the last one's data.
    /// </summary>
    Task RestoreChainAsync(GuestInstance instance, IReadOnlyList<Stream> chain, CancellationToken cancellationToken);
}

/// <summary>What an engine backup wrote: its bytes and the point an increment on top of it starts from (engine-specific text).</summary>
public sealed record BackupOutput(long Bytes, string ResumePoint);
