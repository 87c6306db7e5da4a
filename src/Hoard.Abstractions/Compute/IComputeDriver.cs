namespace Hoard.Abstractions.Compute;

/// <summary>What the compute driver is asked to provision for one instance.</summary>
public sealed record ComputeRequest
{
    public required string InstanceId { get; init; }

    public required string Datastore { get; init; }

    public required string Version { get; init; }

    public required int Port { get; init; }

    public required int RamMb { get; init; }

    public required int Vcpus { get; init; }

    /// <summary>The secret the instance's guest authenticates with; the driver hands it to the guest only.</summary>
    public required string GuestSecret { get; init; }

    /// <summary>The guest-side options of the datastore's group, handed to the guest with its guest-info.</summary>
    public IReadOnlyDictionary<string, string> DatastoreOptions { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Where instances run. A driver never knows which database it runs: it gives the instance a place
/// (a directory and an address here, a pod on Kubernetes) and keeps the pool's guest agent running.
/// </summary>
public interface IComputeDriver
{
    /// <summary>The pool this driver serves, e.g. "default".</summary>
    string Pool { get; }

    /// <summary>Picks an address for a new instance among those not in use.</summary>
    string PickAddress(IReadOnlySet<string> inUse);

    /// <summary>
    /// Creates the instance's place and hands the guest its guest-info. Idempotent.
    /// </summary>
    Task ProvisionAsync(ComputeRequest request, string address, CancellationToken cancellationToken);

    /// <summary>Removes whatever the driver made for the instance. Idempotent.</summary>
    Task DestroyAsync(string instanceId, CancellationToken cancellationToken);

    /// <summary>Instance ids the driver has a place for (to find orphans).</summary>
    IReadOnlyList<string> ListProvisioned();

    /// <summary>Starts the pool's guest agent unless it is running. Returns true when it started one.</summary>
    Task<bool> EnsureAgentAsync(CancellationToken cancellationToken);

    /// <summary>Kills the pool's guest agent (when it stopped heartbeating), so EnsureAgentAsync starts a new one.</summary>
    Task KillAgentAsync(CancellationToken cancellationToken);

    /// <summary>The key the pool's agent authenticates its connection with.</summary>
    string AgentKey { get; }
}

/// <summary>A pool as configured: its name, its driver URI (local:///path, kubernetes://ctx/ns) and options.</summary>
public sealed record ComputePoolSpec
{
    public required string Name { get; init; }

    public required Uri Uri { get; init; }

    /// <summary>The URLs the pool's guest agents dial: every control-plane replica, each kept connected.</summary>
    public required IReadOnlyList<string> ControlPlaneUrls { get; init; }

    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
}

/// <summary>Creates the driver of pools whose URI has this scheme.</summary>
public interface IComputeDriverFactory
{
    string Scheme { get; }

    IComputeDriver Create(ComputePoolSpec pool, Microsoft.Extensions.Logging.ILoggerFactory loggerFactory);
}
