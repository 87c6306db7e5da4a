using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.Redis;

/// <summary>Renders an instance's redis.conf and its first users.acl.</summary>
internal static class RedisConfig
{
    /// <summary>The ACL user the agent itself connects as.</summary>
    public const string AdminUser = "hoard-admin";

    /// <summary>The ACL user handed to the instance's owner by enable_root.</summary>
    public const string RootUser = "root";

    /// <summary>The ACL user cluster members use with each other (replication, MIGRATE); its password is the cluster secret.</summary>
    public const string ClusterUser = "hoard-cluster";

    /// <summary>redis.conf for the instance; with <paramref name="cluster"/> set, for a cluster member.</summary>
    public static string Render(GuestInstance instance, InstanceFiles files, ClusterSettings? cluster = null)
    {
        var conf = new StringBuilder();
        conf.AppendLine(CultureInfo.InvariantCulture, $"# Written by Hoard for instance {instance.Id}; rewritten on every prepare.");

        // Defaults a configuration group may override: the group's file comes after them, and redis.conf's last
        // word on a setting wins. Everything below the include is the manager's and wins over the group.
        conf.AppendLine("loglevel notice");
        conf.AppendLine("appendfsync everysec");
        conf.AppendLine(CultureInfo.InvariantCulture, $"maxmemory {instance.RamMb}mb");
        conf.AppendLine("maxmemory-policy noeviction");
        conf.AppendLine(CultureInfo.InvariantCulture, $"include {Quote(files.GroupConfig)}");

        conf.AppendLine(CultureInfo.InvariantCulture, $"bind {instance.Address}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"port {instance.Port}");
        conf.AppendLine("protected-mode yes");

        // Daemonizing puts the server in its own session, so it outlives the agent.
        conf.AppendLine("daemonize yes");
        conf.AppendLine("supervised no");
        conf.AppendLine(CultureInfo.InvariantCulture, $"pidfile {Quote(files.PidFile)}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"logfile {Quote(files.LogFile)}");

        // The agent tells its server from a process that reused the pid by this title.
        conf.AppendLine("set-proc-title yes");
        conf.AppendLine("proc-title-template \"{title} {listen-addr} {server-mode}\"");

        conf.AppendLine(CultureInfo.InvariantCulture, $"dir {Quote(files.DataDirectory)}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"aclfile {Quote(files.AclFile)}");

        // The AOF is the persistence; no periodic RDB snapshots (each would fork the server).
        // SHUTDOWN SAVE still writes dump.rdb when the agent stops the instance.
        conf.AppendLine("save \"\"");
        conf.AppendLine("appendonly yes");
        if (cluster is not null)
        {
            RenderCluster(conf, instance, files, cluster);
        }

        return conf.ToString();
    }

    private static void RenderCluster(StringBuilder conf, GuestInstance instance, InstanceFiles files, ClusterSettings cluster)
    {
        conf.AppendLine("# Cluster member: the bus listens on port+10000 of the same address.");
        conf.AppendLine("cluster-enabled yes");
        conf.AppendLine(CultureInfo.InvariantCulture, $"cluster-config-file {Quote(files.ClusterConfig)}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"cluster-node-timeout {(long)cluster.NodeTimeout.TotalMilliseconds}");

        // Without these a node does not know its own address until a peer meets it, and its outgoing bus and
        // replication connections leave from 127.0.0.1 rather than from the instance's address.
        conf.AppendLine(CultureInfo.InvariantCulture, $"cluster-announce-ip {instance.Address}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"bind-source-addr {instance.Address}");

        // A master drained by a slot move must stay an empty master, so the control plane can remove it;
        // a failed-over master still follows its promoted replica.
        conf.AppendLine("cluster-allow-replica-migration no");
        conf.AppendLine("cluster-require-full-coverage yes");

        // A replica syncs at once rather than after Redis's default 5 s wait for more replicas: one that never synced
        // cannot be promoted (its data counts as too old), so a master lost in those seconds would take its slots down.
        conf.AppendLine("repl-diskless-sync-delay 0");
        conf.AppendLine(CultureInfo.InvariantCulture, $"masteruser {ClusterUser}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"masterauth {Quote(cluster.Secret)}");
    }

    /// <summary>
    /// The users.acl a new instance starts with: no anonymous access, and the agent's admin user.
    /// Passwords are stored as SHA-256, as ACL SAVE writes them.
    /// </summary>
    public static string RenderInitialAcl(string adminPassword, string? clusterSecret = null) =>
        "user default off resetpass resetkeys resetchannels -@all\n"
        + $"user {AdminUser} on #{PasswordHash(adminPassword)} ~* &* +@all\n"
        + (clusterSecret is null ? string.Empty : $"user {ClusterUser} on #{PasswordHash(clusterSecret)} ~* &* +@all\n");

    /// <summary>The ACL's "#hash" form of a password: lowercase hex SHA-256 of its UTF-8 bytes.</summary>
    public static string PasswordHash(string password) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(password)));

    /// <summary>A config-file string argument, quoted as redis.conf's parser reads it.</summary>
    public static string Quote(string value)
    {
        if (value.Any(char.IsControl))
        {
            throw new ArgumentException($"'{value}' contains control characters and cannot go into redis.conf", nameof(value));
        }

        return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }
}

/// <summary>What a cluster member's redis.conf needs: the shared secret and the node timeout.</summary>
internal sealed record ClusterSettings(string Secret, TimeSpan NodeTimeout)
{
    public override string ToString() => $"cluster member (node timeout {NodeTimeout})";
}
