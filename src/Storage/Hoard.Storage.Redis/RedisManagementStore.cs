using System.Globalization;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using StackExchange.Redis;

[assembly: HoardPlugin("redis", PluginKind.Store, typeof(Hoard.Storage.Redis.RedisStorePlugin))]

namespace Hoard.Storage.Redis;

/// <summary>
/// The management store on a Redis server (one database of it).
/// </summary>
/// <remarks>
/// Key layout, version 1. Every key starts with the root (default <c>hoard:</c>); <c>{root}schema</c> holds the layout
/// version and all else is under <c>{root}v1:</c> (P below). Each id or name inside a key is escaped ('%' → %25,
/// ':' → %3A), and every kind has its own first segment, so no two kinds' keys can collide. Records are hashes of
/// plain strings named as the SQLite columns (times in Unix ms, booleans 0/1, a null field is absent).
/// <code>
/// P seq                                        string  INCR counter: the insertion order of every record below
/// P project:{id} / user:{id} / role:{id}       hash    + field seq
/// P idx:projects / idx:users / idx:roles       zset    ids by seq
/// P idx:project-names:{name} (users alike)     zset    ids of that name by seq
/// P uniq:project-names (users alike)           hash    {domain}:{name} -> id (names unique per domain)
/// P uniq:role-names                            hash    name -> id
/// P assignments                                set     {project}:{user}:{role}
/// P assignments-of-project:{p} / -of-user:{u}  set     the same members, for the cascade on delete
/// P roles-of:{p}:{u}                           set     role ids
/// P token:{hash}                               hash
/// P idx:token-expiry                           zset    token hashes by expires_at
/// P tokens-of-user:{u} / tokens-of-project:{p} set     token hashes, for the cascade on delete
/// P datastore:{id} / datastore-version:{id}   hash
/// P idx:datastores / idx:datastore-versions / idx:datastore-versions-of:{ds}   set of ids
/// P uniq:datastore-names / uniq:datastore-version-names       hash name (or {ds}:{name}) -> id
/// </code>
/// Flavors, pools and the catalogue follow the seed's layout (Zaqar's Redis management store), with keys escaped and
/// kinds apart so a pool and a flavor of one name cannot collide. Their indexes are sorted sets whose members are the
/// records' hash keys, every score 0, so they order by key and a page is ZRANGEBYLEX after the marker's key. That is
/// ordinal order of the names, but for two byte-order quirks of the escaped keys: a ':' in a name sorts as '%' would, and
/// in the all-projects catalogue a project id sorts after the longer ids it begins when their next character is below
/// ':' ("p10" and "p1-a" before "p1"), as the separator ':' is what compares with that character.
/// <code>
/// P pool:{name}                                hash    p name, u uri, w weight, o options (JSON), f flavor id (absent: none)
/// P pools                                      zset    every pool's hash key
/// P flavor-pools:{flavor} / flavorless-pools   zset    the pools of that flavor / of none
/// P flavor:{id}                                hash    f name, p project (absent: public), c capabilities (JSON), id, ram, vcpus, disk
/// P flavors / project-flavors:{project}        zset    every flavor's hash key / that project's private ones
/// P catalogue:{project}:{instance}             hash    p project, p_q instance id, p_p pool
/// P catalogue / project-catalogue:{project}    zset    every entry's hash key / that project's
/// P pool-catalogue:{pool}                      zset    the entries naming the pool (its size is what the pool hosts)
/// </code>
/// Instances, tasks and clusters:
/// <code>
/// P instance:{id}                              hash    + seq, configuration_id; kept with deleted=1 after delete (a marker still pages)
/// P idx:instances / idx:standalone-instances   zset    live instances by seq (all / not in a cluster)
/// P idx:project-instances:{p} / idx:project-standalone-instances:{p}   zset   the same per project
/// P idx:cluster-members:{cluster}              zset    live members by seq
/// P idx:warm-instances:{dsv}:{flavor}          zset    live warm instances no cluster has adopted, by seq
/// P addresses:{pool}                           hash    address -> id of the live instance holding it
/// P task:{id}                                  hash
/// P idx:unfinished-tasks                       zset    pending and running task ids by created_at
/// P cluster:{id}                               hash    + seq; kept with deleted=1
/// P idx:project-clusters:{p}                   zset    live clusters by seq
/// P backup:{id}                                hash    + seq; kept with deleted=1 after delete (a marker still pages)
/// P idx:backups / idx:project-backups:{p}      zset    live backups by seq (all / per project), listed newest first
/// P idx:instance-backups:{i} / idx:project-instance-backups:{p}:{i}   zset   the same per instance (any / one project)
/// P idx:backup-children:{parent}               set     ids of the live backups built on it (a delete waits for none)
/// P configuration:{id}                         hash    + seq; kept with deleted=1 after delete (a marker still pages)
/// P idx:configurations / idx:project-configurations:{p}   zset   live groups by seq (all / per project), oldest first
/// P idx:configuration-instances:{id}           zset    ids of the live instances with the group attached, by their seq
/// P schedule:{id}                              hash    a backup schedule; removed on delete (lists are not paged)
/// P idx:schedules / idx:project-schedules:{p} / idx:instance-schedules:{i}   zset   ids by created_at (ties by id)
/// P idx:due-schedules                          zset    enabled schedules' ids by next_run_at (what a tick asks for)
/// P quota:{project}                            hash    resource -> limit (-1: none), an admin's override of the default
/// </code>
/// Writes that check something first are Lua scripts (<see cref="RedisScripts"/>); a page of a list is a constant
/// three round trips (marker's seq, ZRANGEBYSCORE or ZREVRANGEBYSCORE, one pipelined batch of HGETALLs), or two for the lex-ordered
/// indexes. Nothing uses KEYS; only the drop_all resets SCAN (for the keys of their kind).
/// The scripts build keys from the prefix rather than declaring them, so this targets a standalone server (or
/// a primary with replicas), not Redis Cluster.
/// </remarks>
public sealed class RedisManagementStore : IManagementStore
{
    private readonly ConnectionMultiplexer _connection;
    private readonly RedisDb _db;

    public RedisManagementStore(ConfigurationOptions options, string root = "hoard:")
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(root);
        _connection = ConnectionMultiplexer.Connect(options);
        _db = new RedisDb(_connection.GetDatabase(), new RedisKeys(root));
        Identity = new RedisIdentityStore(_db);
        var instances = new RedisInstanceStore(_db);
        Instances = instances;
        Clusters = new RedisClusterStore(_db, instances);
        Tasks = new RedisTaskStore(_db);
        Datastores = new RedisDatastoreStore(_db);
        Flavors = new RedisFlavorStore(_db);
        Pools = new RedisPoolStore(_db);
        Catalogue = new RedisCatalogueStore(_db);
        Backups = new RedisBackupStore(_db);
        Quotas = new RedisQuotaStore(_db);
        Configurations = new RedisConfigurationStore(_db);
        BackupSchedules = new RedisBackupScheduleStore(_db);
    }

    public IIdentityStore Identity { get; }

    public IQuotaStore Quotas { get; }

    public IInstanceStore Instances { get; }

    public ITaskStore Tasks { get; }

    public IDatastoreStore Datastores { get; }

    public IFlavorStore Flavors { get; }

    public IPoolStore Pools { get; }

    public ICatalogueStore Catalogue { get; }

    public IClusterStore Clusters { get; }

    public IBackupStore Backups { get; }

    public IConfigurationStore Configurations { get; }

    public IBackupScheduleStore BackupSchedules { get; }

    /// <summary>Writes the layout version into an empty database; refuses one a newer Hoard laid out.</summary>
    /// <summary>No connection to the server, or no answer within the timeout.</summary>
    public bool IsUnavailable(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is RedisConnectionException or RedisTimeoutException or TimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var schema = _db.Keys.Schema;
        var found = await _db.Database.ScriptEvaluateAsync(RedisScripts.Migrate, [schema], [RedisKeys.LayoutVersion]);
        if (!int.TryParse(found.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            throw new InvalidOperationException($"Redis key {schema} holds '{found}', not a layout version; is this database used by something else?");
        }

        if (version > RedisKeys.LayoutVersion)
        {
            throw new InvalidOperationException(
                $"the Redis store at {schema} has key layout version {version}, newer than this Hoard's {RedisKeys.LayoutVersion}; upgrade Hoard");
        }

        // Version 1 is the only layout so far: nothing to upgrade from.
    }

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
}

/// <summary>
/// Opens the Redis store for <c>redis://[[user]:password@]host[:port][/db][?prefix=hoard:]</c>; the database number
/// is the path (0 when none), the port defaults to 6379.
/// </summary>
public sealed class RedisStorePlugin : IManagementStoreFactory
{
    public string Scheme => "redis";

    public IManagementStore Open(Uri connection)
    {
        var (options, root) = Parse(connection);
        return new RedisManagementStore(options, root);
    }

    internal static (ConfigurationOptions Options, string Root) Parse(Uri connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.Scheme != "redis")
        {
            throw new ArgumentException($"not a redis:// connection string: {connection.Scheme}://...");
        }

        if (string.IsNullOrEmpty(connection.Host))
        {
            throw new ArgumentException("redis connection string names no host; use redis://[:password@]host:port/db");
        }

        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            ClientName = "hoard",
        };
        options.EndPoints.Add(connection.Host, connection.IsDefaultPort || connection.Port < 0 ? 6379 : connection.Port);
        if (!string.IsNullOrEmpty(connection.UserInfo))
        {
            var colon = connection.UserInfo.IndexOf(':', StringComparison.Ordinal);
            var user = colon < 0 ? connection.UserInfo : connection.UserInfo[..colon];
            if (!string.IsNullOrEmpty(user))
            {
                options.User = Uri.UnescapeDataString(user);
            }

            if (colon >= 0)
            {
                options.Password = Uri.UnescapeDataString(connection.UserInfo[(colon + 1)..]);
            }
        }

        var path = connection.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out var db))
            {
                // Never echo the whole string: it may hold a password.
                throw new ArgumentException($"redis connection string path '/{path}' is not a database number");
            }

            options.DefaultDatabase = db;
        }

        var root = "hoard:";
        foreach (var pair in connection.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? pair : pair[..eq];
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..]);
            if (name == "prefix" && value.Length > 0)
            {
                root = value;
            }
            else
            {
                throw new ArgumentException($"unknown redis connection option '{name}' (known: prefix)");
            }
        }

        return (options, root);
    }
}
