using Hoard.Abstractions.Storage;
using Microsoft.Data.Sqlite;
using static Hoard.Storage.Sqlite.SqliteDb;

namespace Hoard.Storage.Sqlite;

/// <summary>
/// Configuration groups. A delete's in-use check and an attach's live-group check each run in one write transaction
/// (BEGIN IMMEDIATE takes SQLite's single writer lock first), so they take turns: a group being deleted cannot gain an
/// instance.
/// </summary>
internal sealed class SqliteConfigurationStore(SqliteDb db) : IConfigurationStore
{
    private const string Columns = "id, name, description, project_id, datastore_version_id, \"values\", created_at, updated_at, deleted";

    // Rows are never removed (a delete marks them), so the largest seq only grows; the writer lock makes it unique.
    public async Task InsertAsync(ConfigurationRecord configuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        await db.ExecuteAsync(
            $"""
            INSERT INTO configurations (seq, {Columns})
            VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM configurations), $id, $name, $desc, $project, $dsv, $values, $created, $updated, 0)
            """,
            cancellationToken,
            ("$id", configuration.Id), ("$name", configuration.Name), ("$desc", configuration.Description),
            ("$project", configuration.ProjectId), ("$dsv", configuration.DatastoreVersionId), ("$values", configuration.Values),
            ("$created", Ms(configuration.CreatedAt)), ("$updated", Ms(configuration.UpdatedAt)));
    }

    public Task<ConfigurationRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM configurations WHERE id = $id AND deleted = 0", Read, cancellationToken, ("$id", id));

    public async Task<IReadOnlyList<ConfigurationRecord>> ListAsync(string? projectId, string? marker, int limit, CancellationToken cancellationToken)
    {
        // Only the filters asked for, so the planner can walk the (project_id, seq) index or the seq one.
        var where = new List<string> { "deleted = 0" };
        if (projectId is not null) where.Add("project_id = $p");

        // Like the instance lists: a marker marked deleted still marks its place; an unknown one starts at the oldest.
        if (marker is not null) where.Add("seq > COALESCE((SELECT seq FROM configurations WHERE id = $m), 0)");
        return await db.QueryAsync(
            $"SELECT {Columns} FROM configurations WHERE {string.Join(" AND ", where)} ORDER BY seq LIMIT $l",
            Read,
            cancellationToken,
            ("$p", projectId), ("$m", marker), ("$l", Limit(limit)));
    }

    public async Task<bool> UpdateAsync(string id, ConfigurationChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var sets = new List<string> { "updated_at = $updated" };
        var parameters = new List<(string, object?)> { ("$id", id), ("$updated", Ms(change.UpdatedAt)) };
        if (change.Name is not null)
        {
            sets.Add("name = $name");
            parameters.Add(("$name", change.Name));
        }

        if (change.Description is not null)
        {
            sets.Add("description = $desc");
            parameters.Add(("$desc", change.Description.Length == 0 ? null : change.Description));
        }

        if (change.Values is not null)
        {
            sets.Add("\"values\" = $values");
            parameters.Add(("$values", change.Values));
        }

        return await db.ExecuteAsync($"UPDATE configurations SET {string.Join(", ", sets)} WHERE id = $id AND deleted = 0", cancellationToken, [.. parameters]) > 0;
    }

    public async Task<ConfigurationDeletion> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        if (await ScalarAsync(connection, tx, "SELECT 1 FROM configurations WHERE id = $id AND deleted = 0", cancellationToken, ("$id", id)) is null)
        {
            return ConfigurationDeletion.Missing;
        }

        if (await ScalarAsync(connection, tx, "SELECT 1 FROM instances WHERE configuration_id = $id AND deleted = 0 LIMIT 1", cancellationToken, ("$id", id)) is not null)
        {
            return ConfigurationDeletion.InUse; // disposing the transaction rolls it back
        }

        await RunAsync(
            connection,
            tx,
            "UPDATE configurations SET deleted = 1, updated_at = $now WHERE id = $id",
            cancellationToken,
            ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", id));
        await tx.CommitAsync(cancellationToken);
        return ConfigurationDeletion.Deleted;
    }

    public async Task<IReadOnlyList<string>> ListInstancesAsync(string id, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT id FROM instances WHERE configuration_id = $id AND deleted = 0 ORDER BY seq",
            r => r.GetString(0),
            cancellationToken,
            ("$id", id));

    public async Task<ConfigurationAttach> AttachAsync(string instanceId, string? expectedConfigurationId, string? configurationId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        await using (var read = Command(connection, "SELECT configuration_id FROM instances WHERE id = $id AND deleted = 0", ("$id", instanceId)))
        {
            read.Transaction = tx;
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return ConfigurationAttach.MissingInstance;
            }

            if (StringOrNull(reader, 0) != expectedConfigurationId)
            {
                return ConfigurationAttach.Changed;
            }
        }

        if (configurationId is not null
            && await ScalarAsync(connection, tx, "SELECT 1 FROM configurations WHERE id = $c AND deleted = 0", cancellationToken, ("$c", configurationId)) is null)
        {
            return ConfigurationAttach.MissingConfiguration;
        }

        await RunAsync(
            connection,
            tx,
            "UPDATE instances SET configuration_id = $c, updated_at = $now WHERE id = $id",
            cancellationToken,
            ("$c", configurationId), ("$now", Ms(DateTimeOffset.UtcNow)), ("$id", instanceId));
        await tx.CommitAsync(cancellationToken);
        return ConfigurationAttach.Done;
    }

    private static ConfigurationRecord Read(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        Name = r.GetString(1),
        Description = StringOrNull(r, 2),
        ProjectId = r.GetString(3),
        DatastoreVersionId = r.GetString(4),
        Values = r.GetString(5),
        CreatedAt = Time(r, 6),
        UpdatedAt = Time(r, 7),
        Deleted = r.GetBoolean(8),
    };
}
