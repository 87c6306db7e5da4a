using System.Net;
using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Storage;

namespace Hoard.Core.Configuration;

/// <summary>The resolved, validated options the control plane runs with.</summary>
public sealed record HoardOptions
{
    public required string ListenHost { get; init; }

    public required int ListenPort { get; init; }

    public required string DataDir { get; init; }

    public required string PublicUrl { get; init; }

    public required string Region { get; init; }

    public required TimeSpan TokenExpiration { get; init; }

    public required int PasswordHashIterations { get; init; }

    public required int InstancesPageSize { get; init; }

    public required TimeSpan HeartbeatInterval { get; init; }

    public required TimeSpan HeartbeatExpiry { get; init; }

    public required TimeSpan AgentRestartAfter { get; init; }

    public required TimeSpan TaskLease { get; init; }

    public required int MaxConcurrentTasks { get; init; }

    public required string StoreConnection { get; init; }

    /// <summary>[DEFAULT] backup_storage, or file://DATA_DIR/backups.</summary>
    public required string BackupStorage { get; init; }

    /// <summary>[DEFAULT] backup_encryption_key (base64), or null to derive one from the master key.</summary>
    public string? BackupEncryptionKey { get; init; }

    /// <summary>[DEFAULT] max_backups_per_tenant: the most backups a project may hold, or null for no limit (-1).</summary>
    public int? MaxBackupsPerTenant { get; init; }

    /// <summary>[DEFAULT] max_instances_per_tenant: the most instances (replicas and cluster members too), or null for no limit.</summary>
    public int? MaxInstancesPerTenant { get; init; }

    /// <summary>[DEFAULT] max_volumes_per_tenant: the most gigabytes of instance volumes, or null for no limit.</summary>
    public int? MaxVolumesPerTenant { get; init; }

    /// <summary>[DEFAULT] max_ram_per_tenant: the most MB of RAM (the instances' flavors'), or null for no limit.</summary>
    public int? MaxRamPerTenant { get; init; }

    /// <summary>[DEFAULT] max_clusters_per_tenant (Hoard's): the most clusters, or null for no limit.</summary>
    public int? MaxClustersPerTenant { get; init; }

    /// <summary>The quota of a project that has no override: the max_*_per_tenant options.</summary>
    public QuotaLimits DefaultQuota => new(MaxInstancesPerTenant, MaxVolumesPerTenant, MaxRamPerTenant, MaxBackupsPerTenant, MaxClustersPerTenant);

    /// <summary>[DEFAULT] http_*_rate: requests a project may make a minute, per kind.</summary>
    public RateLimitOptions RateLimits { get; init; } = RateLimitOptions.Default;

    /// <summary>[DEFAULT] backup_schedule_tick: how often due backup schedules are looked for.</summary>
    public required TimeSpan BackupScheduleTick { get; init; }

    /// <summary>[DEFAULT] guest_log_container_name: the container published database log parts go to.</summary>
    public string GuestLogContainer { get; init; } = "database_logs";

    /// <summary>[DEFAULT] guest_log_limit: the most bytes in one published log part.</summary>
    public int GuestLogLimit { get; init; } = 1_000_000;

    /// <summary>[DEFAULT] guest_log_expiry: how long published log parts are kept; null for until discarded.</summary>
    public TimeSpan? GuestLogExpiry { get; init; } = TimeSpan.FromDays(30);

    public required string LocalPool { get; init; }

    public required string LocalPoolDir { get; init; }

    public required string LocalAddressRange { get; init; }

    public required string GuestCommand { get; init; }

    /// <summary>[DEFAULT] metrics_enabled: serve /metrics and measure for it.</summary>
    public bool MetricsEnabled { get; init; } = true;

    /// <summary>
    /// [DEFAULT] metrics_instance_labels: export the per-instance series (hoard_guest_heartbeat_age_seconds, labelled
    /// with each instance id). Off by default, because /metrics needs no token and would name every project's instances.
    /// </summary>
    public bool MetricsInstanceLabels { get; init; }

    /// <summary>[profiler]: tracing of requests that ask for it.</summary>
    public ProfilerOptions Profiler { get; init; } = ProfilerOptions.Disabled;

    public required HoardConfiguration Raw { get; init; }

    public static HoardOptions From(HoardConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var (host, port) = ParseListen(config.GetString("DEFAULT", "listen"));
        var dataDir = ExpandHome(DataDirOrDefault(config.GetString("DEFAULT", "data_dir")));
        var publicUrl = config.GetString("DEFAULT", "public_url");
        if (publicUrl.Length == 0)
        {
            publicUrl = $"http://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}";
        }
        else if (!Uri.TryCreate(publicUrl, UriKind.Absolute, out _))
        {
            throw new ConfigurationException($"[DEFAULT] public_url = '{publicUrl}' is not an absolute URL");
        }

        var store = config.GetString("database", "connection");
        if (store.Length == 0)
        {
            store = "sqlite://" + Path.Combine(dataDir, "hoard.db");
        }

        var backupStorage = config.GetString("DEFAULT", "backup_storage");
        backupStorage = backupStorage.Length > 0 ? backupStorage : Hoard.Abstractions.Backups.BackupStorageConnection.Default(dataDir);
        var backupKey = config.GetString("DEFAULT", "backup_encryption_key");
        try
        {
            _ = Hoard.Abstractions.Backups.BackupStorageConnection.Open(backupStorage);
            if (backupKey.Length > 0)
            {
                _ = Hoard.Abstractions.Backups.BackupKey.FromConfiguration(backupKey);
            }
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"[DEFAULT] backup_storage / backup_encryption_key: {e.Message}");
        }

        var pool = config.GetString("local", "pool");
        var poolDir = config.GetString("local", "pool_dir");
        var range = config.GetString("local", "address_range");
        try
        {
            _ = LoopbackRange.Parse(range);
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"[local] address_range: {e.Message}");
        }

        int? Quota(string name)
        {
            var limit = config.GetInt("DEFAULT", name);
            return limit < -1
                ? throw new ConfigurationException($"[DEFAULT] {name} must be -1 (no limit) or at least 0")
                : limit < 0 ? null : limit;
        }

        var logContainer = config.GetString("DEFAULT", "guest_log_container_name");
        if (!Hoard.Core.Logs.ObjectStore.IsContainerName(logContainer))
        {
            throw new ConfigurationException($"[DEFAULT] guest_log_container_name '{logContainer}' is not a container name (1-256 letters, digits, '.', '_' or '-', not '.' or '..')");
        }

        // A part travels from the guest in one frame, base64-encoded.
        var logLimit = config.GetInt("DEFAULT", "guest_log_limit");
        if (logLimit is < 1024 or > 2_000_000)
        {
            throw new ConfigurationException("[DEFAULT] guest_log_limit must be between 1024 and 2000000 bytes");
        }

        var logExpiry = config.GetInt("DEFAULT", "guest_log_expiry");
        if (logExpiry < 0)
        {
            throw new ConfigurationException("[DEFAULT] guest_log_expiry must be 0 (keep until discarded) or a number of seconds");
        }

        return new HoardOptions
        {
            ListenHost = host,
            ListenPort = port,
            DataDir = dataDir,
            PublicUrl = publicUrl.TrimEnd('/'),
            Region = config.GetString("DEFAULT", "region"),
            TokenExpiration = Seconds(config, "DEFAULT", "token_expiration", 1),
            PasswordHashIterations = Positive(config, "DEFAULT", "password_hash_iterations"),
            InstancesPageSize = Positive(config, "DEFAULT", "instances_page_size"),
            HeartbeatInterval = Seconds(config, "DEFAULT", "agent_heartbeat_interval", 1),
            HeartbeatExpiry = Seconds(config, "DEFAULT", "agent_heartbeat_expiry", 1),
            AgentRestartAfter = Seconds(config, "DEFAULT", "agent_restart_after", 1),
            TaskLease = Seconds(config, "DEFAULT", "task_lease", 2),
            MaxConcurrentTasks = Positive(config, "DEFAULT", "max_concurrent_tasks"),
            StoreConnection = store,
            BackupStorage = backupStorage,
            BackupEncryptionKey = backupKey.Length > 0 ? backupKey : null,
            MaxBackupsPerTenant = Quota("max_backups_per_tenant"),
            MaxInstancesPerTenant = Quota("max_instances_per_tenant"),
            MaxVolumesPerTenant = Quota("max_volumes_per_tenant"),
            MaxRamPerTenant = Quota("max_ram_per_tenant"),
            MaxClustersPerTenant = Quota("max_clusters_per_tenant"),
            RateLimits = RateLimitOptions.From(config),
            BackupScheduleTick = Seconds(config, "DEFAULT", "backup_schedule_tick", 1),
            GuestLogContainer = logContainer,
            GuestLogLimit = logLimit,
            GuestLogExpiry = logExpiry == 0 ? null : TimeSpan.FromSeconds(logExpiry),
            LocalPool = pool,
            LocalPoolDir = poolDir.Length > 0 ? ExpandHome(poolDir) : Path.Combine(dataDir, "pools", pool),
            LocalAddressRange = range,
            GuestCommand = config.GetString("local", "guest_command"),
            MetricsEnabled = config.GetBool("DEFAULT", "metrics_enabled"),
            MetricsInstanceLabels = config.GetBool("DEFAULT", "metrics_instance_labels"),
            Profiler = ProfilerOptions.From(config, dataDir),
            Raw = config,
        };
    }

    public static (string Host, int Port) ParseListen(string listen)
    {
        var colon = listen.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(listen[(colon + 1)..], out var port) || port is < 1 or > 65535)
        {
            throw new ConfigurationException($"listen address '{listen}' is not HOST:PORT");
        }

        var host = listen[..colon].Trim('[', ']');
        if (host != "localhost" && !IPAddress.TryParse(host, out _))
        {
            throw new ConfigurationException($"listen address '{listen}': '{host}' is not an IP address");
        }

        return (host, port);
    }

    /// <summary>
    /// The default ~/.hoard is /root/.hoard for root, which the postgres and mysql users that run database
    /// servers cannot traverse; root's default is the system place for service state instead.
    /// </summary>
    public static string DataDirOrDefault(string configured) =>
        configured == "~/.hoard" && Environment.IsPrivilegedProcess ? "/var/lib/hoard" : configured;

    private static string ExpandHome(string path) =>
        Path.GetFullPath(path.StartsWith('~')
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.TrimStart('~', '/'))
            : path);

    private static TimeSpan Seconds(HoardConfiguration c, string section, string name, int min)
    {
        var v = c.GetInt(section, name);
        return v >= min ? TimeSpan.FromSeconds(v) : throw new ConfigurationException($"[{section}] {name} must be at least {min}");
    }

    private static int Positive(HoardConfiguration c, string section, string name)
    {
        var v = c.GetInt(section, name);
        return v > 0 ? v : throw new ConfigurationException($"[{section}] {name} must be positive");
    }
}
