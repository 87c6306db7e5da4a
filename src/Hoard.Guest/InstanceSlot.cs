using Hoard.Abstractions.Datastores;

namespace Hoard.Guest;

/// <summary>One instance the agent runs: what it is, which manager runs it, and what it should be doing.</summary>
internal sealed class InstanceSlot(GuestInstance instance, string secret, IDatastoreManager manager)
{
    /// <summary>Written after a successful prepare: from then on the agent keeps the server running.</summary>
    public const string PreparedMarker = ".prepared";

    public GuestInstance Instance { get; } = instance;

    public string Secret { get; } = secret;

    public IDatastoreManager Manager { get; } = manager;

    /// <summary>Serialises operations on the instance (prepare, restart, destroy, supervision restarts).</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public ServiceStatus Status { get; set; } = ServiceStatus.Building;

    public bool Destroyed { get; set; }

    /// <summary>
    /// When the supervisor first found the server dead (a Stopwatch timestamp), while its restart is held back
    /// (cluster members wait for failover); null while it runs.
    /// </summary>
    public long? DeadSince { get; set; }

    /// <summary>Read from the marker once, when the slot is loaded; the supervision pass asks every 500 ms.</summary>
    public bool Prepared { get; private set; } = File.Exists(Path.Combine(instance.Directory, PreparedMarker));

    /// <summary>Written when a configuration group left values waiting for a restart; removed when the server restarts.</summary>
    public const string RestartRequiredMarker = ".restart-required";

    /// <summary>Whether configuration values wait for a restart (kept on disk, so a restarted agent still says so).</summary>
    public bool RestartRequired { get; private set; } = File.Exists(Path.Combine(instance.Directory, RestartRequiredMarker));

    public void SetRestartRequired(bool required)
    {
        var marker = Path.Combine(Instance.Directory, RestartRequiredMarker);
        if (required)
        {
            File.WriteAllText(marker, string.Empty);
        }
        else
        {
            File.Delete(marker);
        }

        RestartRequired = required;
    }

    public void MarkPrepared()
    {
        File.WriteAllText(Path.Combine(Instance.Directory, PreparedMarker), string.Empty);
        Prepared = true;
    }
}
