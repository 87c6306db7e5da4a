using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Hoard.Datastores.Redis.Resp;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.Redis;

/// <summary>
/// Configuration groups: the parameters come from the server's CONFIG GET *, and their rules from the server's own
/// answers to CONFIG SET (which it refuses at runtime, which enumerations and ranges it enforces).
/// </summary>
/// <remarks>
/// The group's values live in group.conf, which redis.conf includes after the defaults a group may override and
/// before the settings the manager must keep (address, files, persistence, process title), so those always win.
/// </remarks>
public sealed partial class RedisManager : IDatastoreConfiguration
{
    // What a configuration group may not touch: addresses, files and directories, authentication, persistence
    // layout, replication and cluster wiring, process management, and switches that unlock dangerous commands.
    private static readonly string[] ManagedPrefixes = ["cluster-", "tls-", "unixsocket", "replica-announce", "slave-announce", "syslog-"];

    private static readonly HashSet<string> ManagedParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "bind", "bind-source-addr", "port", "protected-mode", "dir", "dbfilename", "appendfilename", "appenddirname",
        "aclfile", "requirepass", "masterauth", "masteruser", "replicaof", "slaveof", "logfile", "pidfile", "include",
        "rename-command", "daemonize", "supervised", "save", "appendonly", "set-proc-title", "proc-title-template",
        "enable-protected-configs", "enable-debug-command", "enable-module-command", "loadmodule", "io-threads",
        "io-threads-do-reads", "server_cpulist", "bio_cpulist", "aof_rewrite_cpulist", "bgsave_cpulist",
    };

    // A value no Redis parameter accepts as an enumeration member, a number or a boolean; sent only to learn the rules.
    private const string ProbeValue = "hoard-probe-value";
    private const string ProbeNumber = "-9223372036854775807";

    // The rules of a Redis version, learnt once per process from the first server of that version asked.
    private static readonly ConcurrentDictionary<string, IReadOnlyList<ConfigurationParameter>> RulesByVersion = new(StringComparer.Ordinal);

    public async Task<IReadOnlyList<ConfigurationParameter>> DiscoverParametersAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        using var deadline = CommandDeadline(cancellationToken);
        cancellationToken = deadline.Token;
        await using var connection = await ConnectAsAdminAsync(instance, cancellationToken);
        return await DiscoverAsync(instance, connection, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, string>> GetEffectiveConfigurationAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        using var deadline = CommandDeadline(cancellationToken);
        cancellationToken = deadline.Token;
        await using var connection = await ConnectAsAdminAsync(instance, cancellationToken);
        var parameters = await DiscoverAsync(instance, connection, cancellationToken);
        var running = await ConfigGetAllAsync(connection, cancellationToken);
        return parameters.Where(p => running.ContainsKey(p.Name)).ToDictionary(p => p.Name, p => running[p.Name], StringComparer.Ordinal);
    }

    public async Task<bool> ApplyConfigurationAsync(GuestInstance instance, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(values);
        var files = InstanceFiles.For(instance);
        using var deadline = CommandDeadline(cancellationToken);
        cancellationToken = deadline.Token;
        await using var connection = await ConnectAsAdminAsync(instance, cancellationToken);
        var parameters = (await DiscoverAsync(instance, connection, cancellationToken)).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (!parameters.TryGetValue(name, out var parameter))
            {
                throw DatastoreOperationException.Invalid($"'{name}' is not a parameter a configuration group can set on redis instance {instance.Id}.");
            }

            if (value.Any(char.IsControl))
            {
                throw DatastoreOperationException.Invalid($"The value of '{name}' contains control characters.");
            }

            // A boolean as the control plane writes it (true/false) or as other engines spell it, in Redis' own words.
            wanted[parameter.Name] = parameter.Type != ParameterTypes.Boolean ? value : value.Trim().ToLowerInvariant() switch
            {
                "true" or "1" or "on" or "yes" => "yes",
                "false" or "0" or "off" or "no" => "no",
                _ => value,
            };
        }

        var previous = await ReadGroupConfigAsync(files, cancellationToken);
        var running = await ConfigGetAllAsync(connection, cancellationToken);
        var managerDefaults = ReadConfigFile(File.Exists(files.Config) ? await File.ReadAllTextAsync(files.Config, cancellationToken) : string.Empty);

        // Dynamic values go to the server in one CONFIG SET, which Redis applies all or none: a value it refuses
        // leaves both the server and group.conf as they were.
        var dynamicChanges = new List<string> { "CONFIG", "SET" };
        var restartNeeded = false;
        foreach (var parameter in parameters.Values)
        {
            var isWanted = wanted.TryGetValue(parameter.Name, out var value);
            var wasSet = previous.ContainsKey(parameter.Name);
            if (!isWanted && !wasSet)
            {
                continue;
            }

            if (parameter.RestartRequired)
            {
                // Needed when the running value is not the one the files now give (Redis has no way to tell its
                // built-in default, so a value dropped from the group that redis.conf does not set needs one too).
                var target = isWanted ? value : managerDefaults.GetValueOrDefault(parameter.Name);
                restartNeeded |= target is null || !(running.TryGetValue(parameter.Name, out var now) && string.Equals(now, target, StringComparison.OrdinalIgnoreCase));
            }
            else if (isWanted)
            {
                dynamicChanges.AddRange([parameter.Name, value!]);
            }
            else if (managerDefaults.TryGetValue(parameter.Name, out var managerValue))
            {
                dynamicChanges.AddRange([parameter.Name, managerValue]);
            }
            else
            {
                // Redis cannot say what its built-in default is; a restart brings it back.
                restartNeeded = true;
            }
        }

        if (dynamicChanges.Count > 2)
        {
            var reply = await connection.SendAsync(dynamicChanges, cancellationToken);
            if (reply.Kind == RespKind.Error)
            {
                throw DatastoreOperationException.Invalid($"Redis refused the configuration: {reply.Text}");
            }
        }

        await PrivateFile.WriteAsync(files.GroupConfig, RenderGroupConfig(instance, wanted), overwrite: true, cancellationToken);
        _logger.ConfigurationApplied(instance.Id, wanted.Count, restartNeeded);
        return restartNeeded;
    }

    /// <summary>A token that also cancels after the command timeout; learning a version's rules takes a few hundred round trips.</summary>
    private CancellationTokenSource CommandDeadline(CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.CommandTimeout);
        return deadline;
    }

    private async Task<RespConnection> ConnectAsAdminAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var password = await ReadAdminPasswordAsync(instance, InstanceFiles.For(instance), cancellationToken);
        var connection = await RespConnection.ConnectAsync(endPoint, cancellationToken);
        try
        {
            await connection.AuthAsync(RedisConfig.AdminUser, password, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task<IReadOnlyList<ConfigurationParameter>> DiscoverAsync(GuestInstance instance, RespConnection connection, CancellationToken cancellationToken)
    {
        var info = (await connection.ExecuteAsync(["INFO", "server"], cancellationToken)).Text ?? string.Empty;
        var version = RedisVersionLine().Match(info) is { Success: true } match ? match.Groups["version"].Value : "unknown";
        if (!RulesByVersion.TryGetValue(version, out var rules))
        {
            rules = await ProbeRulesAsync(connection, cancellationToken);
            _logger.ConfigurationRulesLearnt(version, rules.Count, rules.Count(r => r.RestartRequired));
            rules = RulesByVersion.GetOrAdd(version, rules);
        }

        // What redis.conf sets after the group's include is the manager's (a cluster member's replication settings).
        var config = InstanceFiles.For(instance).Config;
        var text = File.Exists(config) ? await File.ReadAllTextAsync(config, cancellationToken) : string.Empty;
        var include = text.IndexOf("\ninclude ", StringComparison.Ordinal);
        var owned = include < 0 ? [] : ReadConfigFile(text[(include + 1)..]);
        return [.. rules.Where(r => !owned.ContainsKey(r.Name))];
    }

    /// <summary>
    /// Asks the server the rules of each parameter: CONFIG SET of its own value tells whether it can change at runtime,
    /// and CONFIG SET of a value no parameter accepts makes Redis name the values or the range it would have taken.
    /// </summary>
    private static async Task<IReadOnlyList<ConfigurationParameter>> ProbeRulesAsync(RespConnection connection, CancellationToken cancellationToken)
    {
        var running = (await ConfigGetAllAsync(connection, cancellationToken))
            .Where(p => !IsManaged(p.Key))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .ToList();

        var same = new RespCommandBatch();
        foreach (var (name, value) in running)
        {
            same.Add(["CONFIG", "SET", name, value]);
        }

        var sameReplies = await connection.PipelineAsync(same, cancellationToken);
        var rules = new List<ConfigurationParameter>(running.Count);
        for (var i = 0; i < running.Count; i++)
        {
            var (name, value) = running[i];
            var refusal = sameReplies[i].Kind == RespKind.Error ? sameReplies[i].Text ?? string.Empty : null;
            if (refusal is not null && refusal.Contains("protected config", StringComparison.Ordinal))
            {
                // Settable only with enable-protected-configs, which the manager keeps off: not a group's to set.
                continue;
            }

            rules.Add(refusal is null
                ? await ProbeDynamicAsync(connection, name, value, cancellationToken)
                : new ConfigurationParameter(name, TypeOfValue(value), RestartRequired: true));
        }

        return rules;
    }

    private static async Task<ConfigurationParameter> ProbeDynamicAsync(RespConnection connection, string name, string value, CancellationToken cancellationToken)
    {
        var isNumber = long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);
        var probe = await connection.SendAsync(["CONFIG", "SET", name, isNumber ? ProbeNumber : ProbeValue], cancellationToken);
        if (probe.Kind != RespKind.Error)
        {
            // Taken as it is (a free-form string, an unbounded number): put the value back at once.
            await connection.ExecuteAsync(["CONFIG", "SET", name, value], cancellationToken);
            return new ConfigurationParameter(name, isNumber ? ParameterTypes.Integer : ParameterTypes.String, RestartRequired: false);
        }

        var refusal = probe.Text ?? string.Empty;
        if (RangeRefusal().Match(refusal) is { Success: true } range)
        {
            return new ConfigurationParameter(
                name, ParameterTypes.Integer, RestartRequired: false,
                Min: decimal.Parse(range.Groups["min"].Value, CultureInfo.InvariantCulture),
                Max: decimal.Parse(range.Groups["max"].Value, CultureInfo.InvariantCulture));
        }

        if (refusal.Contains("must be a memory value", StringComparison.Ordinal))
        {
            // Bytes, as CONFIG GET reports them; Redis also takes "64mb" and the like.
            return new ConfigurationParameter(name, ParameterTypes.Integer, RestartRequired: false, Min: 0);
        }

        if (refusal.Contains("memory or percent", StringComparison.Ordinal))
        {
            return new ConfigurationParameter(name, ParameterTypes.String, RestartRequired: false);
        }

        if (refusal.Contains("'yes' or 'no'", StringComparison.Ordinal))
        {
            return new ConfigurationParameter(name, ParameterTypes.Boolean, RestartRequired: false);
        }

        if (EnumRefusal().Match(refusal) is { Success: true } choices)
        {
            var allowed = choices.Groups["values"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return new ConfigurationParameter(name, ParameterTypes.String, RestartRequired: false, AllowedValues: allowed);
        }

        return new ConfigurationParameter(name, TypeOfValue(value), RestartRequired: false);
    }

    private static string TypeOfValue(string value) =>
        value is "yes" or "no" ? ParameterTypes.Boolean
        : long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) ? ParameterTypes.Integer
        : ParameterTypes.String;

    private static bool IsManaged(string name) =>
        ManagedParameters.Contains(name) || ManagedPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));

    private static async Task<Dictionary<string, string>> ConfigGetAllAsync(RespConnection connection, CancellationToken cancellationToken)
    {
        var items = (await connection.ExecuteAsync(["CONFIG", "GET", "*"], cancellationToken)).Items ?? [];
        var values = new Dictionary<string, string>(items.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Count; i += 2)
        {
            values[items[i].Text ?? string.Empty] = items[i + 1].Text ?? string.Empty;
        }

        return values;
    }

    private static string RenderGroupConfig(GuestInstance instance, IReadOnlyDictionary<string, string> values)
    {
        var conf = new StringBuilder();
        conf.AppendLine(CultureInfo.InvariantCulture, $"# Configuration group values of instance {instance.Id}; written by Hoard, included by redis.conf.");
        foreach (var (name, value) in values.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            conf.Append(name).Append(' ').AppendLine(RedisConfig.Quote(value));
        }

        return conf.ToString();
    }

    private static async Task<Dictionary<string, string>> ReadGroupConfigAsync(InstanceFiles files, CancellationToken cancellationToken) =>
        File.Exists(files.GroupConfig) ? ReadConfigFile(await File.ReadAllTextAsync(files.GroupConfig, cancellationToken)) : new(StringComparer.Ordinal);

    /// <summary>The "name value" lines of a config file Hoard wrote (values plain or quoted by <see cref="RedisConfig.Quote"/>); the last line of a name wins.</summary>
    internal static Dictionary<string, string> ReadConfigFile(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] == '#' || space < 0)
            {
                continue;
            }

            values[line[..space].ToLowerInvariant()] = Unquote(line[(space + 1)..].Trim());
        }

        return values;
    }

    private static string Unquote(string value)
    {
        if (value.Length < 2 || value[0] != '"' || value[^1] != '"')
        {
            return value;
        }

        var plain = new StringBuilder(value.Length);
        for (var i = 1; i < value.Length - 1; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length - 1)
            {
                i++;
            }

            plain.Append(value[i]);
        }

        return plain.ToString();
    }

    [GeneratedRegex(@"^redis_version:(?<version>\S+)", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex RedisVersionLine();

    [GeneratedRegex(@"between (?<min>-?\d+) and (?<max>-?\d+) inclusive", RegexOptions.CultureInvariant)]
    private static partial Regex RangeRefusal();

    [GeneratedRegex(@"must be one of the following: (?<values>.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex EnumRefusal();
}
