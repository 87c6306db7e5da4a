using System.Data.Common;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

/// <summary>
/// Configuration groups. A delete locks the group's row (FOR UPDATE) before it looks for attached instances, and an
/// attach locks it (FOR SHARE) before it checks the group is live, so they take turns: whichever comes second sees what
/// the first committed (the group deleted, or the instance attached), and a group being deleted cannot gain an instance.
/// Attaches to one group do not wait for each other; each locks its instance's row, so two attaches of one instance take
/// turns too and the second sees the first's group as the one it must expect.
/// </summary>
internal sealed class PostgreSqlConfigurationStore(PostgreSqlDb db) : IConfigurationStore
{
    private const string Columns = "id, name, description, project_id, datastore_version_id, \"values\", created_at, updated_at, deleted";

    public async Task InsertAsync(ConfigurationRecord configuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        await db.ExecuteAsync(
            $"INSERT INTO configurations ({Columns}) VALUES (@id, @name, @desc, @project, @dsv, @values, @created, @updated, FALSE)",
            cancellationToken,
            ("id", configuration.Id), ("name", configuration.Name), ("desc", configuration.Description),
            ("project", configuration.ProjectId), ("dsv", configuration.DatastoreVersionId), ("values", configuration.Values),
            ("created", Ms(configuration.CreatedAt)), ("updated", Ms(configuration.UpdatedAt)));
    }

    public Task<ConfigurationRecord?> GetAsync(string id, CancellationToken cancellationToken) =>
        db.QuerySingleAsync($"SELECT {Columns} FROM configurations WHERE id = @id AND NOT deleted", Read, cancellationToken, ("id", id));

    public async Task<IReadOnlyList<ConfigurationRecord>> ListAsync(string? projectId, string? marker, int limit, CancellationToken cancellationToken)
    {
        // Only the filters asked for, so the planner can walk the (project_id, seq) index or the seq one.
        var where = new List<string> { "NOT deleted" };
        var parameters = new List<(string, object?)> { ("l", Limit(limit)) };
        if (projectId is not null)
        {
            where.Add("project_id = @p");
            parameters.Add(("p", projectId));
        }

        if (marker is not null)
        {
            // Like the instance lists: a marker marked deleted still marks its place; an unknown one starts at the oldest.
            where.Add("seq > COALESCE((SELECT seq FROM configurations WHERE id = @m), 0)");
            parameters.Add(("m", marker));
        }

        return await db.QueryAsync(
            $"SELECT {Columns} FROM configurations WHERE {string.Join(" AND ", where)} ORDER BY seq LIMIT @l::integer",
            Read,
            cancellationToken,
            [.. parameters]);
    }

    public async Task<bool> UpdateAsync(string id, ConfigurationChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var sets = new List<string> { "updated_at = @updated" };
        var parameters = new List<(string, object?)> { ("id", id), ("updated", Ms(change.UpdatedAt)) };
        if (change.Name is not null)
        {
            sets.Add("name = @name");
            parameters.Add(("name", change.Name));
        }

        if (change.Description is not null)
        {
            if (change.Description.Length == 0)
            {
                sets.Add("description = NULL");
            }
            else
            {
                sets.Add("description = @desc");
                parameters.Add(("desc", change.Description));
            }
        }

        if (change.Values is not null)
        {
            sets.Add("\"values\" = @values");
            parameters.Add(("values", change.Values));
        }

        return await db.ExecuteAsync($"UPDATE configurations SET {string.Join(", ", sets)} WHERE id = @id AND NOT deleted", cancellationToken, [.. parameters]) > 0;
    }

    public async Task<ConfigurationDeletion> DeleteAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        // The lock an attach takes too (shared): once held, the check below sees every attach committed before it, and
        // no attach can commit until this transaction has.
        if (await ScalarAsync(connection, tx, "SELECT 1 FROM configurations WHERE id = @id AND NOT deleted FOR UPDATE", cancellationToken, ("id", id)) is null)
        {
            return ConfigurationDeletion.Missing;
        }

        if (await ScalarAsync(connection, tx, "SELECT 1 FROM instances WHERE configuration_id = @id AND NOT deleted LIMIT 1", cancellationToken, ("id", id)) is not null)
        {
            return ConfigurationDeletion.InUse; // disposing the transaction rolls it back
        }

        await RunAsync(connection, tx, "UPDATE configurations SET deleted = TRUE, updated_at = @now WHERE id = @id", cancellationToken, ("now", NowMs()), ("id", id));
        await tx.CommitAsync(cancellationToken);
        return ConfigurationDeletion.Deleted;
    }

    public async Task<IReadOnlyList<string>> ListInstancesAsync(string id, CancellationToken cancellationToken) =>
        await db.QueryAsync(
            "SELECT id FROM instances WHERE configuration_id = @id AND NOT deleted ORDER BY seq",
            r => r.GetString(0),
            cancellationToken,
            ("id", id));

    public async Task<ConfigurationAttach> AttachAsync(string instanceId, string? expectedConfigurationId, string? configurationId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        // Under READ COMMITTED a row lock waited for re-reads the row as its holder committed it: an instance another
        // transaction has just marked deleted, or attached elsewhere, is seen as such here.
        await using (var read = Command(connection, tx, "SELECT configuration_id FROM instances WHERE id = @id AND NOT deleted FOR UPDATE", ("id", instanceId)))
        {
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
            && await ScalarAsync(connection, tx, "SELECT 1 FROM configurations WHERE id = @c AND NOT deleted FOR SHARE", cancellationToken, ("c", configurationId)) is null)
        {
            return ConfigurationAttach.MissingConfiguration;
        }

        await RunAsync(
            connection,
            tx,
            "UPDATE instances SET configuration_id = @c, updated_at = @now WHERE id = @id",
            cancellationToken,
            ("c", configurationId), ("now", NowMs()), ("id", instanceId));
        await tx.CommitAsync(cancellationToken);
        return ConfigurationAttach.Done;
    }

    private static ConfigurationRecord Read(DbDataReader r) => new()
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
