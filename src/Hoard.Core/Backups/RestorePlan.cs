using System.Text.Json.Nodes;

namespace Hoard.Core.Backups;

/// <summary>The backup a create task restores, carried in the task's payload beside the sealed initial schema.</summary>
public static class RestorePlan
{
    private const string Key = "restore_backup";

    public static string AddTo(string payload, string? backupId)
    {
        if (backupId is null)
        {
            return payload;
        }

        var o = JsonNode.Parse(payload) as JsonObject ?? [];
        o[Key] = backupId;
        return o.ToJsonString();
    }

    public static string? BackupOf(string payload) =>
        JsonNode.Parse(payload) is JsonObject o && o[Key] is JsonValue v && v.TryGetValue<string>(out var id) ? id : null;
}

/// <summary>A restore the guest refused or failed: the instance's fault says which backup and why.</summary>
public sealed class BackupRestoreException(string message, Exception inner) : Exception(message, inner);
