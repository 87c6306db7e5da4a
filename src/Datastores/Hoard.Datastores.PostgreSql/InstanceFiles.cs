using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// Where one instance keeps its files. The agent's own files (admin secret, log) stay in the instance's
/// directory, private to root; the data directory belongs to the engine user, in the instance's directory
/// or, with a mount_point, in a folder of its own there.
/// </summary>
internal sealed record InstanceFiles(string Directory, string DataDirectory, bool DataOutsideInstance)
{
    /// <summary>The password of the agent's admin role (os_admin), mode 0600.</summary>
    public string AdminSecret => Path.Combine(Directory, "admin.secret");

    /// <summary>Present once the server's admin password is the instance's own, no longer the template's.</summary>
    public string AdminRotated => Path.Combine(Directory, "admin.rotated");

    /// <summary>The server's stdout and stderr; opened by the agent, so it stays private to the agent's user.</summary>
    public string LogFile => Path.Combine(Directory, "postgresql.log");

    /// <summary>The slow-query log: the server log's "duration:" entries, copied out of <see cref="LogFile"/> as it grows.</summary>
    public string SlowLogFile => Path.Combine(Directory, "slow_query.log");

    /// <summary>How far into <see cref="LogFile"/> the slow-query log has been copied (a byte offset).</summary>
    public string SlowLogCursor => Path.Combine(Directory, "slow_query.cursor");

    /// <summary>PostgreSQL's lock file: pid, data directory, port, shared memory key, status ("ready").</summary>
    public string PidFile => Path.Combine(DataDirectory, "postmaster.pid");

    /// <summary>The instance's settings, included last by the template's postgresql.conf; rewritten at every prepare.</summary>
    public string Config => Path.Combine(DataDirectory, ServerConfig.IncludedFileName);

    /// <summary>The configuration group's values, included by <see cref="Config"/> before the settings the manager keeps.</summary>
    public string GroupConfig => Path.Combine(DataDirectory, ServerConfig.GroupFileName);

    /// <summary>Who may connect how; the template's lines plus the instance's own, rewritten at every prepare.</summary>
    public string HostBasedAuthentication => Path.Combine(DataDirectory, "pg_hba.conf");

    public static InstanceFiles For(GuestInstance instance)
    {
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
