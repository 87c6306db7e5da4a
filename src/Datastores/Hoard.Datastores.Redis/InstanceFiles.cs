using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.Redis;

/// <summary>Where one instance keeps its files; everything lives under the instance's directory.</summary>
internal sealed record InstanceFiles(string Directory)
{
    public string DataDirectory => Path.Combine(Directory, "data");

    public string Config => Path.Combine(Directory, "redis.conf");

    /// <summary>ACL users; written once, then owned by Redis (ACL SAVE), so root changes survive restarts.</summary>
    public string AclFile => Path.Combine(Directory, "users.acl");

    /// <summary>The password of the agent's own ACL user, mode 0600.</summary>
    public string AdminSecret => Path.Combine(Directory, "admin.secret");

    /// <summary>A cluster member's secret, shared by the members (user hoard-cluster), mode 0600; its presence makes the instance a member.</summary>
    public string ClusterSecret => Path.Combine(Directory, "cluster.secret");

    /// <summary>Redis' own record of the cluster (node id, peers, slots, epochs), written by the server.</summary>
    public string ClusterConfig => Path.Combine(DataDirectory, "nodes.conf");

    /// <summary>The configuration group's values, included by redis.conf; written by the manager, mode 0600.</summary>
    public string GroupConfig => Path.Combine(Directory, "group.conf");

    public string PidFile => Path.Combine(Directory, "redis.pid");

    public string LogFile => Path.Combine(Directory, "redis.log");

    /// <summary>The slow-query log: SLOWLOG entries written out as lines while the log is enabled.</summary>
    public string SlowLogFile => Path.Combine(Directory, "slowlog.log");

    /// <summary>Present while the slow-query log is enabled.</summary>
    public string SlowLogEnabled => Path.Combine(Directory, "slowlog.enabled");

    /// <summary>The server's run_id and the last SLOWLOG entry id written out.</summary>
    public string SlowLogCursor => Path.Combine(Directory, "slowlog.cursor");

    public static InstanceFiles For(GuestInstance instance) => new(Path.GetFullPath(instance.Directory));
}
