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
