using Hoard.Abstractions.Storage;

namespace Hoard.Core.Backups;

/// <summary>The backups an incremental backup builds on, which a restore applies before it.</summary>
public static class BackupChain
{
    /// <summary>The most backups one restore applies; a deeper chain is refused rather than walked without end.</summary>
    public const int MaxLength = 1000;

    /// <summary>
    /// The backups <paramref name="backup"/> builds on, its full backup first and its parent last; empty for a full
    /// backup. Each must still be a COMPLETED backup (a live child keeps its parent from being deleted, so this fails
    /// only on a store changed by hand or a backup whose parent is still being made).
    /// </summary>
    public static async Task<IReadOnlyList<BackupRecord>> AncestorsAsync(IBackupStore backups, BackupRecord backup, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backups);
        ArgumentNullException.ThrowIfNull(backup);
        var ancestors = new List<BackupRecord>();
        for (var parentId = backup.ParentId; parentId is not null;)
        {
            if (ancestors.Count >= MaxLength)
            {
                throw new BackupChainException($"Backup {backup.Id} cannot be restored: it builds on a chain of more than {MaxLength} backups.");
            }

            var parent = await backups.GetAsync(parentId, cancellationToken);
            if (parent is null || parent.State != BackupStates.Completed)
            {
                throw new BackupChainException(
                    $"Backup {backup.Id} cannot be restored: backup {parentId}, which it builds on, is {(parent is null ? "gone" : $"{parent.State}, not COMPLETED")}.");
            }

            ancestors.Add(parent);
            parentId = parent.ParentId;
        }

        ancestors.Reverse();
        return ancestors;
    }
}

/// <summary>A backup chain that cannot be restored, and why.</summary>
public sealed class BackupChainException(string message) : Exception(message);
