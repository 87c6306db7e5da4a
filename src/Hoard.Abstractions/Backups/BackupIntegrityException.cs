namespace Hoard.Abstractions.Backups;

/// <summary>Why stored backup bytes were refused.</summary>
public enum BackupIntegrityFailure
{
    /// <summary>The bytes do not start with a Hoard backup header.</summary>
    NotABackup,

    /// <summary>A Hoard backup of a format version this build cannot read.</summary>
    UnsupportedVersion,

    /// <summary>The header names another key than the one given.</summary>
    WrongKey,

    /// <summary>The stored bytes do not hash to the recorded SHA-256.</summary>
    ChecksumMismatch,

    /// <summary>A chunk failed AES-GCM authentication: damaged, reordered, dropped or duplicated.</summary>
    ChunkAuthentication,

    /// <summary>The bytes end before the final chunk.</summary>
    Truncated,

    /// <summary>Bytes follow the final chunk, or a chunk frame is malformed.</summary>
    Malformed,
}

/// <summary>
/// Stored backup bytes that must not be restored: the message says which check failed (checksum, key, chunk integrity,
/// truncation), and <see cref="Failure"/> says it to code.
/// </summary>
public sealed class BackupIntegrityException : Exception
{
    public BackupIntegrityException(BackupIntegrityFailure failure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
    }

    public BackupIntegrityException()
        : this(BackupIntegrityFailure.Malformed, "The backup failed an integrity check.")
    {
    }

    public BackupIntegrityException(string message)
        : this(BackupIntegrityFailure.Malformed, message)
    {
    }

    public BackupIntegrityException(string message, Exception innerException)
        : this(BackupIntegrityFailure.Malformed, message, innerException)
    {
    }

    public BackupIntegrityFailure Failure { get; }
}
