namespace Hoard.Abstractions.Datastores;

/// <summary>What the guest knows about one instance it runs (its guest-info, plus where it lives).</summary>
public sealed record GuestInstance
{
    public required string Id { get; init; }

    public required string Datastore { get; init; }

    public required string Version { get; init; }

    /// <summary>The instance's own directory; the manager keeps everything of the instance under it.</summary>
    public required string Directory { get; init; }

    public required string Address { get; init; }

    public required int Port { get; init; }

    public required int RamMb { get; init; }
}

/// <summary>A database user's credentials, returned once when root is enabled.</summary>
public sealed record RootCredentials(string Name, string Password);

/// <summary>
/// Runs one engine's instances on a guest: the datastore "manager" of Trove's guest agent.
/// Every method is idempotent, because the control plane retries steps after a crash.
/// </summary>
public interface IDatastoreManager
{
    /// <summary>Writes the instance's configuration and data directory, starts it and waits until it serves.</summary>
    Task PrepareAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Starts the server if it is not running, and waits until it serves.</summary>
    Task StartAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Stops the server cleanly (data is persisted first).</summary>
    Task StopAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Cheap liveness check: is the server process of this instance alive?</summary>
    bool IsProcessAlive(GuestInstance instance);

    /// <summary>Asks the server itself whether it serves.</summary>
    Task<ServiceStatus> ProbeAsync(GuestInstance instance, CancellationToken cancellationToken);

    Task<RootCredentials> EnableRootAsync(GuestInstance instance, string? password, CancellationToken cancellationToken);

    Task DisableRootAsync(GuestInstance instance, CancellationToken cancellationToken);
}
