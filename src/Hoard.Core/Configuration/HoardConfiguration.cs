using System.Globalization;
using System.Text;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;

namespace Hoard.Core.Configuration;

/// <summary>One option: where it lives, its type, its default and what it is for.</summary>
public sealed record OptionDefinition(string Section, string Name, string Type, string Default, string Help)
{
    /// <summary>The environment variable that overrides it: HOARD_SECTION_NAME.</summary>
    public string EnvironmentVariable =>
        $"HOARD_{Section.ToUpperInvariant()}_{Name.ToUpperInvariant()}";
}

/// <summary>
/// Hoard's configuration: every known option with its default, overridden by the INI file, overridden in
/// turn by environment variables (HOARD_SECTION_NAME), overridden by command-line flags.
/// </summary>
public sealed class HoardConfiguration
{
    private readonly Dictionary<(string, string), string> _values = [];
    private readonly List<OptionDefinition> _definitions;

    /// <summary>The control plane's own options. Each datastore plugin adds its group (<see cref="DatastoreGroups"/>).</summary>
    public static IReadOnlyList<OptionDefinition> CoreOptions { get; } =
    [
        new("DEFAULT", "listen", "host:port", "127.0.0.1:8779", "Address the API listens on (Trove's port is 8779)."),
        new("DEFAULT", "data_dir", "path", "~/.hoard", "Where Hoard keeps its store, pools and admin-openrc; as root the default is /var/lib/hoard, which the postgres and mysql users can reach."),
        new("DEFAULT", "public_url", "url", "", "Base URL clients reach the API at; empty means http://<listen>."),
        new("DEFAULT", "region", "string", "RegionOne", "Region name in the service catalog."),
        new("DEFAULT", "token_expiration", "seconds", "3600", "Lifetime of an identity token."),
        new("DEFAULT", "password_hash_iterations", "integer", "210000", "PBKDF2-SHA512 iterations for stored passwords."),
        new("DEFAULT", "instances_page_size", "integer", "20", "Most instances returned by one list call, as Trove's option of that name."),
        new("DEFAULT", "agent_heartbeat_interval", "seconds", "2", "How often a guest agent reports the status of its instances."),
        new("DEFAULT", "agent_heartbeat_expiry", "seconds", "60", "After this long without a heartbeat an instance shows FAILED_TIMEOUT_GUESTAGENT (ERROR)."),
        new("DEFAULT", "agent_restart_after", "seconds", "10", "The control plane restarts a pool's agent that has not connected or heartbeated for this long."),
        new("DEFAULT", "task_lease", "seconds", "15", "Lease on a running task; another control plane takes over a task whose lease lapsed."),
        new("DEFAULT", "max_concurrent_tasks", "integer", "32", "Tasks one control plane runs at once."),
        new("DEFAULT", "control_plane_urls", "list", "", "Every control-plane replica's URL (http://host:port, comma-separated) when several hoard serve processes share one store and pool; each guest agent keeps a connection to every one. Empty means this server alone."),
        new("DEFAULT", "backup_storage", "uri", "", "Where backups are stored, by connection string (file:///path, one folder per backup id); empty means file://<data_dir>/backups."),
        new("DEFAULT", "backup_encryption_key", "secret", "", "The AES-256 key backups are encrypted with, 32 bytes in base64; empty means one derived from <data_dir>/master.key. A backup made with another key is refused on restore."),
        new("DEFAULT", "max_instances_per_tenant", "integer", "10", "Most instances one project may hold, replicas and cluster members included (Trove's option of that name); a create beyond it answers 413. An instance being deleted no longer counts. An admin sets a project's own limit with PUT /mgmt/quotas/{project}. -1 means no limit."),
        new("DEFAULT", "max_volumes_per_tenant", "integer", "40", "Most gigabytes of instance volumes (volume.size) one project may hold (Trove's option of that name); -1 means no limit."),
        new("DEFAULT", "max_ram_per_tenant", "integer", "-1", "Most MB of RAM (the sum of its instances' flavors' RAM) one project may hold (Trove's option of that name); -1 means no limit."),
        new("DEFAULT", "max_clusters_per_tenant", "integer", "5", "Most clusters one project may hold (Hoard's option: Trove limits only the members, as instances); -1 means no limit."),
        new("DEFAULT", "max_backups_per_tenant", "integer", "50", "Most backups one project may hold (Trove's option of that name); a create beyond it answers 413. A backup being deleted no longer counts. -1 means no limit."),
        new("DEFAULT", "metrics_enabled", "boolean", "true", "Serve /metrics (Prometheus text format, no token, on the API's listener): request rate and latency per route, task durations, instances per status, guest heartbeat age, store latency. Off, /metrics is a 404 and nothing is measured."),
        new("DEFAULT", "metrics_instance_labels", "boolean", "false", "Export the per-instance series on /metrics (hoard_guest_heartbeat_age_seconds, one per instance, labelled with its instance_id). Off by default: /metrics needs no token, and these name every project's instances; turn it on where only the scraper reaches /metrics."),
        new("DEFAULT", "backup_schedule_tick", "seconds", "30", "How often the control plane looks for backup schedules that are due; a due schedule runs at most this late."),
        new("DEFAULT", "guest_log_container_name", "string", "database_logs", "Container (Trove's option of that name) that published database log parts go to, in each project's account of Hoard's object store (<data_dir>/object-store)."),
        new("DEFAULT", "guest_log_limit", "integer", "1000000", "Most bytes in one published log part (Trove's option of that name); a publish cuts the new lines into parts of at most this size."),
        new("DEFAULT", "guest_log_expiry", "seconds", "2592000", "Seconds a published log part (and the log's metafile) is kept before it expires (Trove's option of that name); 0 keeps them until discarded."),
        new("database", "connection", "uri", "", "Management store connection string; empty means sqlite:///<data_dir>/hoard.db."),
        new("local", "pool", "string", "default", "Name of the first pool, registered in the store on a first start (when it has no pool); later pools are managed with hoard pool or /mgmt/pools."),
        new("local", "pool_dir", "path", "", "Directory of that first pool (its local:// URI); empty means <data_dir>/pools/<pool>."),
        new("local", "address_range", "cidr", "127.42.0.0/16", "Loopback addresses of that first pool, one per instance (Linux routes all of 127.0.0.0/8 to lo)."),
        new("local", "guest_command", "path", "", "The guest agent executable; empty means hoard-guest next to hoard."),
    ];

    /// <summary>The core options plus <paramref name="extra"/> ones (each datastore's group).</summary>
    public HoardConfiguration(IEnumerable<OptionDefinition>? extra = null)
    {
        _definitions = [.. CoreOptions, .. RateLimitOptions.Definitions, .. ProfilerOptions.Definitions, .. extra ?? []];
        foreach (var option in _definitions)
        {
            _values[(option.Section.ToUpperInvariant(), option.Name)] = option.Default;
        }
    }

    /// <summary>Every option this configuration knows: the core ones and the plugins' groups.</summary>
    public IReadOnlyList<OptionDefinition> Options => _definitions;

    /// <summary>The option groups the datastore plugins declare: <c>[redis]</c>, <c>[postgresql]</c>, <c>[mariadb]</c>, …</summary>
    public static IEnumerable<OptionDefinition> DatastoreGroups(PluginRegistry plugins)
    {
        ArgumentNullException.ThrowIfNull(plugins);
        return plugins.All<IDatastorePlugin>(PluginKind.Datastore)
            .SelectMany(p => p.Options.Select(o => new OptionDefinition(
                p.Name,
                o.Name,
                o.Type,
                o.Default,
                o.Side == OptionSide.Guest ? o.Help + " (guest side: handed to the agent)" : o.Help)));
    }

    /// <summary>Builds the configuration from defaults, an optional INI file and the environment.</summary>
    public static HoardConfiguration Load(string? iniPath, IReadOnlyDictionary<string, string?> environment, IEnumerable<OptionDefinition>? extra = null)
    {
        var config = new HoardConfiguration(extra);
        if (iniPath is not null)
        {
            if (!File.Exists(iniPath))
            {
                throw new ConfigurationException($"configuration file '{iniPath}' does not exist");
            }

            foreach (var (section, values) in IniFile.Parse(File.ReadAllText(iniPath), iniPath))
            {
                foreach (var (key, value) in values)
                {
                    config.Set(section, key, value, iniPath);
                }
            }
        }

        foreach (var option in config.Options)
        {
            if (environment.TryGetValue(option.EnvironmentVariable, out var value) && value is not null)
            {
                config.Set(option.Section, option.Name, value, option.EnvironmentVariable);
            }
        }

        return config;
    }

    /// <summary>Sets an option; unknown options of known sections are an error, so typos are caught.</summary>
    public void Set(string section, string name, string value, string source)
    {
        var key = (section.ToUpperInvariant(), name.ToLowerInvariant());
        if (!_values.ContainsKey(key))
        {
            if (_definitions.Any(o => o.Section.Equals(section, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ConfigurationException($"{source}: unknown option '{name}' in [{section}]; 'hoard config sample' lists them all");
            }

            // Sections Hoard does not know yet (for plugins added later) are kept, not rejected.
        }

        _values[key] = value;
    }

    public string GetString(string section, string name) =>
        _values.TryGetValue((section.ToUpperInvariant(), name), out var v) ? v : string.Empty;

    public int GetInt(string section, string name)
    {
        var raw = GetString(section, name);
        return int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new ConfigurationException($"[{section}] {name} = '{raw}' is not an integer");
    }

    public bool GetBool(string section, string name)
    {
        var raw = GetString(section, name).ToLowerInvariant();
        return raw switch
        {
            "true" or "1" or "yes" or "on" => true,
            "false" or "0" or "no" or "off" or "" => false,
            _ => throw new ConfigurationException($"[{section}] {name} = '{raw}' is not a boolean"),
        };
    }

    /// <summary>The text of a sample configuration file: every option, commented out at its default, with its help.</summary>
    public string Sample()
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Hoard configuration. Every option is shown at its default.");
        sb.AppendLine("# Environment variables HOARD_<SECTION>_<OPTION> override this file; command-line flags override both.");
        foreach (var group in Options.GroupBy(o => o.Section))
        {
            sb.AppendLine();
            sb.Append('[').Append(group.Key).AppendLine("]");
            foreach (var option in group)
            {
                sb.Append("# ").Append(option.Help).Append(" (").Append(option.Type).Append("; env ").Append(option.EnvironmentVariable).AppendLine(")");
                sb.Append('#').Append(option.Name).Append(" = ").AppendLine(option.Default);
            }
        }

        return sb.ToString();
    }
}
