using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// Where one instance keeps its files. The agent's own files (config, admin secret, pid file, log) stay in the
/// instance's directory, private to the agent's user; the data directory belongs to the engine user, in the
/// instance's directory or, with a mount_point, in a folder of its own there.
/// </summary>
internal sealed record InstanceFiles(string Directory, string DataDirectory, bool DataOutsideInstance)
{
    /// <summary>The server's options; mariadbd reads only this file (--defaults-file), never /etc/mysql.</summary>
    public string Config => Path.Combine(Directory, "my.cnf");

    /// <summary>The configuration group's options, included by <see cref="Config"/> before the options the manager keeps; mode 0600.</summary>
    public string GroupConfig => Path.Combine(Directory, "group.cnf");

    /// <summary>The password of the agent's admin user (os_admin), mode 0600.</summary>
    public string AdminSecret => Path.Combine(Directory, "admin.secret");

    /// <summary>Present once the server's admin password is the instance's own, no longer the template's.</summary>
    public string AdminRotated => Path.Combine(Directory, "admin.rotated");

    /// <summary>
    /// The server's pid, written by the agent the moment it launches mariadbd: mariadbd writes its own pid file
    /// only once it is nearly ready, and a start must be recognised (and a death noticed) before that.
    /// </summary>
    public string PidFile => Path.Combine(Directory, "mariadbd.pid");

    /// <summary>mariadbd's own pid file, in its data directory (the only place the engine user may write).</summary>
    public string EnginePidFile => Path.Combine(DataDirectory, "mariadbd.pid");

    /// <summary>The server's stdout and stderr (its error log); opened by the agent, so it stays the agent's.</summary>
    public string LogFile => Path.Combine(Directory, "mariadb.log");

    /// <summary>The slow-query log, written by the server itself, so in its data directory (the engine user's).</summary>
    public string SlowLogFile => Path.Combine(DataDirectory, "slow_query.log");

    /// <summary>The slow-query log's switch and threshold while a user has it on, included by my.cnf so a restart keeps them; mode 0600.</summary>
    public string LogsConfig => Path.Combine(Directory, "logs.cnf");

    public static InstanceFiles For(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var directory = Path.GetFullPath(instance.Directory);
        var mountPoint = instance.Option(DatastoreOptionNames.MountPoint, string.Empty);
        if (mountPoint.Length == 0)
        {
            return new InstanceFiles(directory, Path.Combine(directory, "data"), DataOutsideInstance: false);
        }

        if (!Path.IsPathFullyQualified(mountPoint))
        {
            throw new ArgumentException($"mount_point must be an absolute path, not '{mountPoint}'", nameof(instance));
        }

        // One agent runs many instances under one mount_point: each keeps its data in a folder named by its id.
        var id = Path.GetFileName(instance.Id);
        if (id.Length == 0 || id != instance.Id || id is "." or "..")
        {
            throw new ArgumentException($"instance id '{instance.Id}' cannot name a folder", nameof(instance));
        }

        return new InstanceFiles(directory, Path.Combine(Path.GetFullPath(mountPoint), id), DataOutsideInstance: true);
    }
}
