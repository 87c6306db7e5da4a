using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// The configuration Hoard gives PostgreSQL: pg_hba.conf and an include line, once in the template, and each
/// instance's own settings (address, port, memory) in a file the template's postgresql.conf includes last.
/// </summary>
internal static class ServerConfig
{
    public const string IncludedFileName = "hoard.conf";

    /// <summary>A configuration group's values, next to <see cref="IncludedFileName"/>, which includes it.</summary>
    public const string GroupFileName = "group.conf";

    public const int MaxConnections = 100;

    /// <summary>
    /// The most WAL (MB) the incremental-backup slot keeps. Every instance that has had a full backup keeps up to this
    /// much disk for its next increment, so it is modest; an instance writing more between backups gets a clear
    /// failure asking for a full backup instead.
    /// </summary>
    public const int MaxSlotWalKeepMb = 1024;

    /// <summary>Appended to initdb's postgresql.conf: the instance's file, read last, wins.</summary>
    public const string IncludeLine = "\n# Added by Hoard: each instance's own settings.\ninclude '" + IncludedFileName + "'\n";

    /// <summary>
    /// Password authentication only, for every database, user and address; no trust, no peer, no local
    /// (unix socket) lines at all, and no replication connections (an instance's own file adds the admin's).
    /// </summary>
    public const string HostBasedAuthentication =
        "# Written by Hoard: password (SCRAM) authentication only, over TCP only.\n" +
        "# TYPE  DATABASE  USER  ADDRESS     METHOD\n" +
        "host    all       all   0.0.0.0/0   scram-sha-256\n" +
        "host    all       all   ::/0        scram-sha-256\n";

    /// <summary>
    /// An instance's pg_hba.conf: the template's lines, then replication connections (base backups) for the admin
    /// role alone, from the instance's own address and from loopback, the addresses a tool on the guest itself
    /// connects from (Linux gives a connection to any 127.x address the source 127.0.0.1).
    /// </summary>
    public static string RenderHostBasedAuthentication(GuestInstance instance)
    {
        var address = IPAddress.Parse(instance.Address);
        var loopback = address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        var text = new StringBuilder(HostBasedAuthentication)
            .AppendLine("# Base backups (pg_basebackup) by the agent's admin role, from this machine only.");
        foreach (var source in new[] { address, loopback }.Distinct())
        {
            var prefix = source.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
            text.AppendLine(CultureInfo.InvariantCulture, $"host    replication  {PostgreSqlSchema.AdminUser}  {source}/{prefix}  scram-sha-256");
        }

        return text.ToString();
    }

    /// <summary>The instance's settings: its address alone, no unix socket, memory from its flavor.</summary>
    public static string Render(GuestInstance instance)
    {
        var address = IPAddress.Parse(instance.Address);
        var memory = MemorySettings.For(instance.RamMb);
        var text = new StringBuilder()
            .AppendLine("# Written by the Hoard agent at every prepare; changes here are lost.")
            .AppendLine("# Defaults a configuration group may override: its file, included next, is read after them.")
            .AppendLine(CultureInfo.InvariantCulture, $"max_connections = {MaxConnections}")
            .AppendLine(CultureInfo.InvariantCulture, $"# Memory from the flavor's {instance.RamMb} MB.")
            .AppendLine(CultureInfo.InvariantCulture, $"shared_buffers = {memory.SharedBuffersKb}kB")
            .AppendLine(CultureInfo.InvariantCulture, $"effective_cache_size = {memory.EffectiveCacheSizeKb}kB")
            .AppendLine(CultureInfo.InvariantCulture, $"work_mem = {memory.WorkMemKb}kB")
            .AppendLine(CultureInfo.InvariantCulture, $"maintenance_work_mem = {memory.MaintenanceWorkMemKb}kB")
            .AppendLine("# The replication slot that keeps WAL for incremental backups keeps at most this much; beyond it the")
            .AppendLine("# slot is given up and the next incremental backup fails, asking for a full one, rather than filling the disk.")
            .AppendLine(CultureInfo.InvariantCulture, $"max_slot_wal_keep_size = {MaxSlotWalKeepMb}MB")
            .AppendLine(CultureInfo.InvariantCulture, $"include_if_exists '{GroupFileName}'")
            .AppendLine("# The manager's own settings, read last, win over the group's.")
            .AppendLine(CultureInfo.InvariantCulture, $"listen_addresses = '{address}'")
            .AppendLine(CultureInfo.InvariantCulture, $"port = {instance.Port}")
            .AppendLine("unix_socket_directories = ''")
            .AppendLine("password_encryption = 'scram-sha-256'")
            .AppendLine("ssl = off")
            .AppendLine("# The server's stderr is the instance's log file (the agent opens it).")
            .AppendLine("logging_collector = off")
            .AppendLine("log_destination = 'stderr'")
            .AppendLine("log_line_prefix = '%m [%p] %q%u@%d '");
        return text.ToString();
    }
}

/// <summary>
/// Memory settings from the flavor's RAM, as the usual tuning guides have them: shared_buffers a quarter,
/// effective_cache_size three quarters, work_mem what is left shared by a few sorts per connection,
/// maintenance_work_mem a sixteenth. All in kB, within PostgreSQL's bounds.
/// </summary>
internal sealed record MemorySettings(long SharedBuffersKb, long EffectiveCacheSizeKb, long WorkMemKb, long MaintenanceWorkMemKb)
{
    public static MemorySettings For(int ramMb)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ramMb);
        var ramKb = ramMb * 1024L;
        var shared = Math.Max(ramKb / 4, 128);
        var cache = Math.Max(ramKb * 3 / 4, 8);
        var work = Math.Clamp((ramKb - shared) / (ServerConfig.MaxConnections * 3), 256, 1024 * 1024);
        var maintenance = Math.Clamp(ramKb / 16, 1024, 2 * 1024 * 1024);
        return new MemorySettings(shared, cache, work, maintenance);
    }
}
