using System.Globalization;
using Npgsql;
using static Hoard.Storage.PostgreSql.PostgreSqlDb;

namespace Hoard.Storage.PostgreSql;

/// <summary>
/// Applies the embedded Migrations/NNNN_name.sql scripts in order, each in its own transaction, recording each in
/// schema_migrations so a script runs once per database. Every transaction first takes one advisory lock, so two
/// processes migrating the same database at once take turns: the second finds the scripts recorded and skips them.
/// </summary>
internal static class PostgreSqlMigrator
{
    /// <summary>The advisory lock key (an arbitrary constant: "hoard" in ASCII), held until each transaction ends.</summary>
    private const long LockKey = 0x686F617264;

    public static IReadOnlyList<(int Version, string Name, string Sql)> LoadScripts()
    {
        var assembly = typeof(PostgreSqlMigrator).Assembly;
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            // Resource names look like Hoard.Storage.PostgreSql.Migrations.0001_initial.sql
            const string marker = ".Migrations.";
            var at = resource.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0 || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var file = resource[(at + marker.Length)..^4];
            var underscore = file.IndexOf('_', StringComparison.Ordinal);
            var version = int.Parse(file[..underscore], CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            scripts.Add((version, file[(underscore + 1)..], reader.ReadToEnd()));
        }

        return [.. scripts.OrderBy(s => s.Item1)];
    }

    public static async Task<int> MigrateAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // CREATE TABLE IF NOT EXISTS is not safe against a concurrent CREATE of the same table, hence the lock here too.
        await using (var tx = await connection.BeginTransactionAsync(cancellationToken))
        {
            await LockAsync(connection, tx, cancellationToken);
            await using var create = Command(
                connection,
                tx,
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL)
                """);
            await create.ExecuteNonQueryAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
        }

        var applied = 0;
        foreach (var (version, name, sql) in LoadScripts())
        {
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            await LockAsync(connection, tx, cancellationToken);
            await using (var check = Command(connection, tx, "SELECT 1 FROM schema_migrations WHERE version = @v", ("v", version)))
            {
                if (await check.ExecuteScalarAsync(cancellationToken) is not null)
                {
                    continue;
                }
            }

            await using (var run = Command(connection, tx, sql))
            {
                await run.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = Command(
                connection,
                tx,
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @t)",
                ("v", version), ("n", name), ("t", NowMs())))
            {
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
            applied++;
        }

        return applied;
    }

    private static async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, tx, "SELECT pg_advisory_xact_lock(@k)", ("k", LockKey));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
