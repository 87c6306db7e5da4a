namespace Hoard.Abstractions.Storage;

/// <summary>Trove's BackupState names (backup/state.py), plus Hoard's DELETING while a delete task removes the stored data.</summary>
public static class BackupStates
{
    public const string New = "NEW";
    public const string Building = "BUILDING";
    public const string Saving = "SAVING";
    public const string Completed = "COMPLETED";
    public const string Failed = "FAILED";
    public const string DeleteFailed = "DELETE_FAILED";
    public const string Deleting = "DELETING";

    /// <summary>Whether a backup in this state is still being made (the instance shows BACKUP meanwhile).</summary>
    public static bool IsRunning(string state) => state is New or Building or Saving;
}

/// <summary>A backup of an instance: Trove's DBBackup, with what Hoard records about the stored bytes.</summary>
public sealed record BackupRecord
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public string? Description { get; init; }

    public required string ProjectId { get; init; }

    /// <summary>The instance it was taken from (it may since have been deleted).</summary>
    public required string InstanceId { get; init; }

    /// <summary>For an incremental backup: the backup it builds on.</summary>
    public string? ParentId { get; init; }

    public required string DatastoreVersionId { get; init; }

    public required string State { get; init; }

    /// <summary>Bytes stored (compressed and encrypted), once completed.</summary>
    public long? Size { get; init; }

    /// <summary>SHA-256 (hex) over the stored bytes, once completed.</summary>
    public string? Checksum { get; init; }

    /// <summary>Where the stored bytes are (a backup storage URI), once known.</summary>
    public string? Location { get; init; }

    public string? FaultMessage { get; init; }

    /// <summary>The backup schedule that made it (its retention may delete it), or null for one a user asked for.</summary>
    public string? ScheduleId { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    public bool Deleted { get; init; }
}

/// <summary>A partial update of a backup; null fields stay as they are. An empty <see cref="FaultMessage"/> clears it.</summary>
public sealed record BackupChange
{
    public string? State { get; init; }

    public long? Size { get; init; }

    public string? Checksum { get; init; }

    public string? Location { get; init; }

    public string? FaultMessage { get; init; }

    public bool? Deleted { get; init; }
}

/// <summary>What starting a backup delete did.</summary>
public enum BackupDeletion
{
    /// <summary>The backup is DELETING and its delete task is queued.</summary>
    Started,

    /// <summary>There was no such live backup; nothing changed.</summary>
    Missing,

    /// <summary>Refused: a live incremental backup builds on it.</summary>
    HasChildren,

    /// <summary>Refused: it is still being made, or already being deleted.</summary>
    Busy,
}

/// <summary>What inserting a backup did.</summary>
public enum BackupInsert
{
    /// <summary>The backup and its task are written.</summary>
    Inserted,

    /// <summary>Refused: its parent is not a live COMPLETED backup of the same instance; nothing written.</summary>
    ParentUnusable,

    /// <summary>Refused: the project holds as many live backups as its quota allows; nothing written.</summary>
    OverQuota,

    /// <summary>Refused: the instance was asked to be claimed and is gone or busy with another task; nothing written.</summary>
    InstanceBusy,
}
