using System.Diagnostics;
using System.Globalization;
using System.Text;
using Hoard.Abstractions.Datastores;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// Configuration groups: the parameters and their rules are the server's pg_settings; the values go to group.conf,
/// which hoard.conf includes after the defaults a group may override and before the settings the manager keeps.
/// </summary>
public sealed partial class PostgreSqlManager : IDatastoreConfiguration
{
    // What a configuration group may not touch: addresses, files and directories, authentication and TLS, logging
    // the agent reads, replication and archiving (base backups depend on them), and code loaded into the server.
    private static readonly HashSet<string> ManagedParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "listen_addresses", "port", "data_directory", "hba_file", "ident_file", "config_file", "external_pid_file",
        "shared_preload_libraries", "local_preload_libraries", "session_preload_libraries", "dynamic_library_path",
        "password_encryption", "db_user_namespace", "restore_command", "promote_trigger_file", "wal_level",
        "max_wal_senders", "max_replication_slots", "synchronous_standby_names", "hot_standby", "logging_collector",
        "log_destination", "log_directory", "log_filename", "log_file_mode", "log_line_prefix", "log_truncate_on_rotation",
        "event_source", "allow_system_table_mods", "allow_in_place_tablespaces", "jit_provider", "data_sync_retry",
    };

    private static readonly string[] ManagedPrefixes = ["ssl", "unix_socket_", "archive_", "recovery_", "primary_", "syslog_", "krb_", "bonjour", "log_rotation_"];

    private const string SettingsQuery =
        "SELECT name, vartype, context, min_val, max_val, enumvals FROM pg_settings WHERE context <> 'internal' ORDER BY name";

    private static readonly TimeSpan ReloadPollDelay = TimeSpan.FromMilliseconds(10);

    public async Task<IReadOnlyList<ConfigurationParameter>> DiscoverParametersAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        return await DiscoverAsync(session, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, string>> GetEffectiveConfigurationAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        var names = (await DiscoverAsync(session, cancellationToken)).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

        // The server-wide values (reset_val), not this session's: the admin session sets a few options of its own.
        var rows = await session.QueryAsync(
            "SELECT name, reset_val FROM pg_settings WHERE context <> 'internal'", r => (Name: r.GetString(0), Value: r.IsDBNull(1) ? string.Empty : r.GetString(1)), cancellationToken);
        return rows.Where(r => names.Contains(r.Name)).ToDictionary(r => r.Name, r => r.Value, StringComparer.Ordinal);
    }

    public async Task<bool> ApplyConfigurationAsync(GuestInstance instance, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(values);
        var files = InstanceFiles.For(instance);
        await using var session = await OpenAdminAsync(instance, PostgreSqlSchema.MaintenanceDatabase, cancellationToken);
        var parameters = (await DiscoverAsync(session, cancellationToken)).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var wanted = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (!parameters.TryGetValue(name, out var parameter))
            {
                throw DatastoreOperationException.Invalid($"'{name}' is not a parameter a configuration group can set on postgresql instance {instance.Id}.");
            }

            if (value.Any(char.IsControl))
            {
                throw DatastoreOperationException.Invalid($"The value of '{name}' contains control characters.");
            }

            wanted[parameter.Name] = value;
        }

        var previous = File.Exists(files.GroupConfig) ? await File.ReadAllTextAsync(files.GroupConfig, cancellationToken) : null;
        var account = _account.Value;
        account.WritePrivateFile(files.GroupConfig, RenderGroupConfig(instance, wanted));

        // pg_file_settings reads the files as a reload would, without applying them: a value the server would refuse
        // shows there, and so does a restart-only one that differs from the running value.
        var check = await CheckFilesAsync(session, files, parameters, cancellationToken);
        if (check.Refused.Count > 0)
        {
            if (previous is null)
            {
                File.Delete(files.GroupConfig);
            }
            else
            {
                account.WritePrivateFile(files.GroupConfig, previous);
            }

            throw DatastoreOperationException.Invalid($"PostgreSQL refuses the value of {string.Join(", ", check.Refused)}.");
        }

        await session.ExecuteAsync("SELECT pg_reload_conf()", cancellationToken);
        await WaitForReloadAsync(instance, session, files, wanted.Keys, parameters, cancellationToken);
        _logger.ConfigurationApplied(instance.Id, wanted.Count, check.RestartNeeded);
        return check.RestartNeeded;
    }

    private static async Task<IReadOnlyList<ConfigurationParameter>> DiscoverAsync(AdminSession session, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync(SettingsQuery, ReadParameter, cancellationToken);
        return [.. rows.Where(p => !IsManaged(p.Name))];
    }

    private static ConfigurationParameter ReadParameter(NpgsqlDataReader row)
    {
        var name = row.GetString(0);
        var vartype = row.GetString(1);
        var context = row.GetString(2);
        decimal? Bound(int ordinal) =>
            !row.IsDBNull(ordinal) && decimal.TryParse(row.GetString(ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var bound) ? bound : null;
        var numeric = vartype is "integer" or "real";
        return new ConfigurationParameter(
            name,
            vartype switch
            {
                "bool" => ParameterTypes.Boolean,
                "integer" => ParameterTypes.Integer,
                "real" => ParameterTypes.Float,
                _ => ParameterTypes.String,
            },
            RestartRequired: context == "postmaster",
            Min: numeric ? Bound(3) : null,
            Max: numeric ? Bound(4) : null,
            AllowedValues: vartype == "enum" && !row.IsDBNull(5) ? row.GetFieldValue<string[]>(5) : null);
    }

    private static bool IsManaged(string name) =>
        ManagedParameters.Contains(name) || ManagedPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));

    private sealed record FileCheck(IReadOnlyList<string> Refused, bool RestartNeeded);

    private static async Task<FileCheck> CheckFilesAsync(
        AdminSession session, InstanceFiles files, IReadOnlyDictionary<string, ConfigurationParameter> parameters, CancellationToken cancellationToken)
    {
        // Overridden lines are not applied either, but carry no error: only the line that would win has one.
        var rows = await session.QueryAsync(
            "SELECT f.sourcefile, f.name, f.applied, f.error, s.context " +
            "FROM pg_file_settings f LEFT JOIN pg_settings s ON s.name = f.name",
            r => (File: r.IsDBNull(0) ? null : r.GetString(0), Name: r.IsDBNull(1) ? null : r.GetString(1), Applied: r.GetBoolean(2),
                Error: r.IsDBNull(3) ? null : r.GetString(3), Context: r.IsDBNull(4) ? null : r.GetString(4)),
            cancellationToken);
        var groupFile = Path.GetFullPath(files.GroupConfig);
        var refused = new List<string>();
        var restart = false;
        foreach (var row in rows.Where(r => r.Error is not null))
        {
            if (row.Context == "postmaster")
            {
                // Differs from the running value: taken at the next start. (The server cannot check such a value
                // before it starts; the control plane has checked it against the rules.)
                restart = true;
            }
            else if (row.File == groupFile || row.Name is null || !parameters.ContainsKey(row.Name))
            {
                refused.Add(row.Name ?? $"a line of {Path.GetFileName(row.File)} ({row.Error})");
            }
        }

        // A restart-only value the group set before and no file sets now goes back to its built-in default.
        var dropped = await session.QueryAsync(
            "SELECT s.name FROM pg_settings s WHERE s.context = 'postmaster' AND s.sourcefile = $1 AND s.setting <> s.boot_val " +
            "AND NOT EXISTS (SELECT 1 FROM pg_file_settings f WHERE f.name = s.name AND f.error IS NULL AND f.applied)",
            r => r.GetString(0), cancellationToken, groupFile);
        return new FileCheck(refused, restart || dropped.Count > 0);
    }

    /// <summary>
    /// Waits until the server has reread its files, so the dynamic values are in effect when the call returns:
    /// pg_settings names group.conf as the source of each value the group sets, and no longer of any it dropped.
    /// </summary>
    private async Task WaitForReloadAsync(
        GuestInstance instance,
        AdminSession session,
        InstanceFiles files,
        IEnumerable<string> names,
        IReadOnlyDictionary<string, ConfigurationParameter> parameters,
        CancellationToken cancellationToken)
    {
        var groupFile = Path.GetFullPath(files.GroupConfig);
        var dynamicNames = names.Where(n => !parameters[n].RestartRequired).ToArray();
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            // This backend takes the reload between statements, as every other one does; backend-context values
            // reach only sessions started after it, so they are not waited for.
            var stale = await session.QueryAsync(
                "SELECT count(*) FROM pg_settings WHERE context IN ('sighup', 'superuser', 'user') AND source NOT IN ('client', 'session', 'user', 'database', 'database user') " +
                "AND ((name = ANY($1) AND sourcefile IS DISTINCT FROM $2) OR (NOT name = ANY($1) AND sourcefile = $2))",
                r => r.GetInt64(0), cancellationToken, (object)dynamicNames, groupFile);
            if (stale[0] == 0)
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(started) > _options.CommandTimeout)
            {
                throw new TimeoutException($"postgresql instance {instance.Id} did not reload its configuration within {_options.CommandTimeout.TotalSeconds:F0} s");
            }

            await Task.Delay(ReloadPollDelay, cancellationToken);
        }
    }

    private static string RenderGroupConfig(GuestInstance instance, IReadOnlyDictionary<string, string> values)
    {
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# Configuration group values of instance {instance.Id}; written by the Hoard agent, included by {ServerConfig.IncludedFileName}.");
        foreach (var (name, value) in values)
        {
            // Quoted, backslashes and quotes escaped as the config file parser reads them.
            var quoted = value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal);
            text.AppendLine(CultureInfo.InvariantCulture, $"{name} = '{quoted}'");
        }

        return text.ToString();
    }
}
