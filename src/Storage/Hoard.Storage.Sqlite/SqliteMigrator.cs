using System.Reflection;
using Microsoft.Data.Sqlite;

namespace Hoard.Storage.Sqlite;

/// <summary>
/// Applies the embedded Migrations/NNNN_name.sql scripts in order, each in its own transaction,
/// recording each in schema_migrations so a script runs once per database.
/// </summary>
internal static class SqliteMigrator
{
    public static IReadOnlyList<(int Version, string Name, string Sql)> LoadScripts()
    {
        var assembly = typeof(SqliteMigrator).Assembly;
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            // Resource names look like Hoard.Storage.Sqlite.Migrations.0001_initial.sql
            const string marker = ".Migrations.";
            var at = resource.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0 || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            var file = resource[(at + marker.Length)..^4];
            var underscore = file.IndexOf('_', StringComparison.Ordinal);
            var version = int.Parse(file[..underscore], System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            scripts.Add((version, file[(underscore + 1)..], reader.ReadToEnd()));
        }

        return [.. scripts.OrderBy(s => s.Item1)];
    }

    public static async Task<int> MigrateAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at INTEGER NOT NULL)
                """;
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var applied = 0;
        foreach (var (version, name, sql) in LoadScripts())
        {
            await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
            await using (var check = connection.CreateCommand())
            {
                check.Transaction = tx;
                check.CommandText = "SELECT 1 FROM schema_migrations WHERE version = $v";
                check.Parameters.AddWithValue("$v", version);
                if (await check.ExecuteScalarAsync(cancellationToken) is not null)
                {
                    continue;
                }
            }

            await using (var run = connection.CreateCommand())
            {
                run.Transaction = tx;
                run.CommandText = sql;
                await run.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var record = connection.CreateCommand())
            {
                record.Transaction = tx;
                record.CommandText = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($v, $n, $t)";
                record.Parameters.AddWithValue("$v", version);
                record.Parameters.AddWithValue("$n", name);
                record.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
            applied++;
        }

        return applied;
    }
}
