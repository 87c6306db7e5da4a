using System.Globalization;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// Configuration groups: the parameters and their rules are the server's information_schema.SYSTEM_VARIABLES; the
/// values go to group.cnf, which my.cnf includes after the defaults a group may override and before the options the
/// manager keeps.
/// </summary>
public sealed partial class MariaDbManager : IDatastoreConfiguration
{
    // What a configuration group may not touch: addresses, files and directories, TLS, code loaded into the server,
    // statements run on its own, replication and cluster wiring, and options the template's files must agree with.
    private static readonly HashSet<string> ManagedVariables = new(StringComparer.OrdinalIgnoreCase)
    {
        "port", "bind_address", "socket", "datadir", "basedir", "tmpdir", "pid_file", "log_error", "general_log_file",
        "slow_query_log_file", "skip_networking", "skip_name_resolve", "plugin_dir", "plugin_maturity", "character_sets_dir",
        "lc_messages_dir", "secure_file_priv", "local_infile", "symbolic_links", "init_file", "init_connect", "init_slave",
        "user", "server_id", "log_basename", "log_tc", "innodb_log_file_size", "innodb_data_file_path", "innodb_data_home_dir",
        "innodb_log_group_home_dir", "innodb_undo_directory", "innodb_tmpdir", "innodb_temp_data_file_path",
        "innodb_buffer_pool_filename", "aria_log_dir_path", "extra_port", "extra_max_connections", "port_open_timeout",
        "log_slow_query_file", "ft_stopword_file", "skip_grant_tables", "require_secure_transport", "default_password_lifetime",
        "max_password_errors", "disconnect_on_expired_password", "encrypt_tmp_files", "innodb_encrypt_log", "core_file",
    };

    private static readonly string[] ManagedPrefixes = ["ssl_", "tls_", "wsrep_", "log_bin", "relay_log", "gtid_", "report_", "master_", "slave_", "rpl_"];

    // Settable in an option file (a command-line form exists) and server-wide: what a group's file can hold.
    private const string VariablesQuery =
        "SELECT VARIABLE_NAME, VARIABLE_TYPE, READ_ONLY, NUMERIC_MIN_VALUE, NUMERIC_MAX_VALUE, ENUM_VALUE_LIST, GLOBAL_VALUE, DEFAULT_VALUE " +
        "FROM information_schema.SYSTEM_VARIABLES WHERE VARIABLE_SCOPE <> 'SESSION ONLY' AND COMMAND_LINE_ARGUMENT IS NOT NULL";

    private sealed record Variable(ConfigurationParameter Parameter, string? GlobalValue, string? DefaultValue);

    public Task<IReadOnlyList<ConfigurationParameter>> DiscoverParametersAsync(GuestInstance instance, CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<ConfigurationParameter>>(
            instance, async (connection, ct) => [.. (await ReadVariablesAsync(connection, ct)).Values.Select(v => v.Parameter).OrderBy(p => p.Name, StringComparer.Ordinal)], cancellationToken);

    public Task<IReadOnlyDictionary<string, string>> GetEffectiveConfigurationAsync(GuestInstance instance, CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyDictionary<string, string>>(
            instance, async (connection, ct) => (await ReadVariablesAsync(connection, ct)).Values.ToDictionary(v => v.Parameter.Name, v => v.GlobalValue ?? string.Empty, StringComparer.Ordinal), cancellationToken);

    public async Task<bool> ApplyConfigurationAsync(GuestInstance instance, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(values);
        var files = InstanceFiles.For(instance);
        var restart = await RunAsync(instance, async (connection, ct) =>
        {
            var variables = await ReadVariablesAsync(connection, ct);
            var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, value) in values)
            {
                if (!variables.TryGetValue(name.Replace('-', '_'), out var variable))
                {
                    throw DatastoreOperationException.Invalid($"'{name}' is not a parameter a configuration group can set on mariadb instance {instance.Id}.");
                }

                if (value.Any(char.IsControl))
                {
                    throw DatastoreOperationException.Invalid($"The value of '{name}' contains control characters.");
                }

                wanted[variable.Parameter.Name] = value;
            }

            var previous = File.Exists(files.GroupConfig) ? ReadOptions(await File.ReadAllTextAsync(files.GroupConfig, ct), untilInclude: false) : [];
            var managerDefaults = ReadOptions(await File.ReadAllTextAsync(files.Config, ct), untilInclude: true);

            // One SET statement: MariaDB changes all of its variables or, refusing one value, none.
            var assignments = new List<string>();
            var command = new MySqlCommand { Connection = connection };
            var restartNeeded = false;
            foreach (var variable in variables.Values)
            {
                var parameter = variable.Parameter;
                var isWanted = wanted.TryGetValue(parameter.Name, out var value);
                if (!isWanted && !previous.ContainsKey(parameter.Name))
                {
                    continue;
                }

                var target = isWanted ? value : managerDefaults.GetValueOrDefault(parameter.Name);
                if (parameter.RestartRequired)
                {
                    target ??= variable.DefaultValue;
                    restartNeeded |= target is null || !SameValue(parameter, target, variable.GlobalValue);
                    continue;
                }

                if (target is null)
                {
                    assignments.Add($"GLOBAL {parameter.Name} = DEFAULT");
                    continue;
                }

                var placeholder = "@v" + assignments.Count.ToString(CultureInfo.InvariantCulture);
                assignments.Add($"GLOBAL {parameter.Name} = {placeholder}");
                command.Parameters.AddWithValue(placeholder, SqlValue(parameter, target));
            }

            if (assignments.Count > 0)
            {
                command.CommandText = "SET " + string.Join(", ", assignments);
                try
                {
                    await using (command)
                    {
                        await command.ExecuteNonQueryAsync(ct);
                    }
                }
                catch (MySqlException e) when (e.ErrorCode is MySqlErrorCode.WrongValueForVariable or MySqlErrorCode.WrongTypeForVariable
                    or MySqlErrorCode.IncorrectGlobalLocalVariable or MySqlErrorCode.UnknownSystemVariable)
                {
                    throw DatastoreOperationException.Invalid($"MariaDB refused the configuration: {e.Message}");
                }
            }

            await PrivateFile.WriteAsync(files.GroupConfig, ServerConfig.RenderGroup(instance, wanted), overwrite: true, ct);
            _logger.ConfigurationApplied(instance.Id, wanted.Count, restartNeeded);
            return restartNeeded;
        }, cancellationToken);
        return restart;
    }

    private static async Task<Dictionary<string, Variable>> ReadVariablesAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        var rows = await Sql.QueryAsync(connection, VariablesQuery, ReadVariable, cancellationToken);
        return rows.Where(v => !IsManaged(v.Parameter.Name)).ToDictionary(v => v.Parameter.Name, StringComparer.OrdinalIgnoreCase);
    }

    private static Variable ReadVariable(MySqlDataReader row)
    {
        string? Text(int ordinal) => row.IsDBNull(ordinal) ? null : Convert.ToString(row.GetValue(ordinal), CultureInfo.InvariantCulture);
        decimal? Number(int ordinal) => decimal.TryParse(Text(ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : null;
        var type = Text(1) ?? string.Empty;
        var numeric = type.Contains("INT", StringComparison.Ordinal) || type == "DOUBLE";
        var parameter = new ConfigurationParameter(
            (Text(0) ?? string.Empty).ToLowerInvariant(),
            type switch
            {
                _ when type.Contains("INT", StringComparison.Ordinal) => ParameterTypes.Integer,
                "DOUBLE" => ParameterTypes.Float,
                "BOOLEAN" => ParameterTypes.Boolean,
                _ => ParameterTypes.String,
            },
            RestartRequired: Text(2) == "YES",
            Min: numeric ? Number(3) : null,
            Max: numeric ? Number(4) : null,
            AllowedValues: type == "ENUM" && Text(5) is { } list ? list.Split(',') : null);
        return new Variable(parameter, Text(6), Text(7));
    }

    private static bool IsManaged(string name) =>
        ManagedVariables.Contains(name) || ManagedPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));

    /// <summary>The value as SET takes it: a number for numeric variables (option-file suffixes K, M, G, T worked out), text otherwise.</summary>
    private static object SqlValue(ConfigurationParameter parameter, string value)
    {
        if (parameter.Type is not (ParameterTypes.Integer or ParameterTypes.Float))
        {
            return value;
        }

        return ParseNumber(value) ?? throw DatastoreOperationException.Invalid($"'{value}' is not a number, which {parameter.Name} takes.");
    }

    private static decimal? ParseNumber(string value)
    {
        var text = value.Trim();
        var multiplier = 1m;
        if (text.Length > 1 && char.ToUpperInvariant(text[^1]) is var suffix && "KMGT".Contains(suffix, StringComparison.Ordinal))
        {
            multiplier = suffix switch { 'K' => 1024m, 'M' => 1024m * 1024, 'G' => 1024m * 1024 * 1024, _ => 1024m * 1024 * 1024 * 1024 };
            text = text[..^1];
        }

        return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number * multiplier : null;
    }

    /// <summary>Whether a value as written means the value the server reports (numbers with suffixes, ON/OFF spelt 1/0).</summary>
    private static bool SameValue(ConfigurationParameter parameter, string written, string? running)
    {
        if (running is null)
        {
            return false;
        }

        if (parameter.Type is ParameterTypes.Integer or ParameterTypes.Float)
        {
            return ParseNumber(written) is { } a && ParseNumber(running) is { } b && a == b;
        }

        static string Flag(string v) => v.Trim().ToUpperInvariant() switch { "1" or "TRUE" or "YES" => "ON", "0" or "FALSE" or "NO" => "OFF", var other => other };
        return string.Equals(Flag(written), Flag(running), StringComparison.Ordinal);
    }

    /// <summary>The "name = value" options of an option file Hoard wrote, names with underscores; the last of a name wins.</summary>
    private static Dictionary<string, string> ReadOptions(string text, bool untilInclude)
    {
        var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (untilInclude && line.StartsWith("!include", StringComparison.Ordinal))
            {
                break;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] is '#' or '[' or '!' || equals <= 0)
            {
                continue;
            }

            var value = line[(equals + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
            {
                value = Unescape(value[1..^1]);
            }

            options[line[..equals].Trim().Replace('-', '_')] = value;
        }

        return options;
    }

    private static string Unescape(string quoted)
    {
        var plain = new System.Text.StringBuilder(quoted.Length);
        for (var i = 0; i < quoted.Length; i++)
        {
            if (quoted[i] == '\\' && i + 1 < quoted.Length)
            {
                i++;
            }

            plain.Append(quoted[i]);
        }

        return plain.ToString();
    }
}
