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

    /// <summary>The guest-side options of the datastore's group (mount_point, …) as the control plane configured them.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Set by the agent on prepare for a cluster member: the cluster and the secret its members share. A manager
    /// keeps what it needs of it on disk, since later calls (and a restarted agent) do not carry it.
    /// </summary>
    public Clusters.ClusterMembership? Cluster { get; init; }

    /// <summary>A guest-side option, or <paramref name="fallback"/> when it is unset or empty.</summary>
    public string Option(string name, string fallback) =>
        Options.TryGetValue(name, out var value) && value.Length > 0 ? value : fallback;
}

/// <summary>A database user's credentials, returned once when root is enabled.</summary>
public sealed record RootCredentials(string Name, string Password)
{
    public override string ToString() => $"credentials of {Name}";
}

/// <summary>
/// Runs one engine's instances on a guest: the datastore "manager" of Trove's guest agent.
/// Every lifecycle method is idempotent, because the control plane retries steps after a crash.
/// Refusals (exists, missing, not supported) are <see cref="DatastoreOperationException"/>s.
/// Names reaching a manager were checked against the plugin's <see cref="SchemaRules"/>; a manager still passes
/// them to its engine only as quoted identifiers or bound parameters.
/// </summary>
public interface IDatastoreManager
{
    /// <summary>Writes the instance's configuration and data directory, starts it and waits until it serves.</summary>
    Task PrepareAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Starts the server if it is not running, and waits until it serves.</summary>
    Task StartAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Stops the server cleanly (data is persisted first).</summary>
    Task StopAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Stops the server and removes whatever the manager keeps outside the instance directory (a mount_point).</summary>
    Task DestroyAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Cheap liveness check: is the server process of this instance alive?</summary>
    bool IsProcessAlive(GuestInstance instance);

    /// <summary>Asks the server itself whether it serves.</summary>
    Task<ServiceStatus> ProbeAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Creates (or resets) the root user with <paramref name="password"/>, or a generated one when null.</summary>
    Task<RootCredentials> EnableRootAsync(GuestInstance instance, string? password, CancellationToken cancellationToken);

    Task DisableRootAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>User databases, reserved ones left out, sorted by name.</summary>
    Task<IReadOnlyList<DatabaseSpec>> ListDatabasesAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Creates databases; one that exists already is a conflict (nothing of the request is created then).</summary>
    Task CreateDatabasesAsync(GuestInstance instance, IReadOnlyList<DatabaseSpec> databases, CancellationToken cancellationToken);

    /// <summary>Drops a database; a missing one is not found.</summary>
    Task DeleteDatabaseAsync(GuestInstance instance, string name, CancellationToken cancellationToken);

    /// <summary>User accounts, reserved ones (the agent's own, root) left out, sorted by name and host.</summary>
    Task<IReadOnlyList<UserInfo>> ListUsersAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>Creates users with access to their databases; one that exists already is a conflict.</summary>
    Task CreateUsersAsync(GuestInstance instance, IReadOnlyList<UserSpec> users, CancellationToken cancellationToken);

    Task DeleteUserAsync(GuestInstance instance, UserRef user, CancellationToken cancellationToken);

    /// <summary>Renames a user, moves it to another host and/or sets its password (Trove's update_attributes).</summary>
    Task UpdateUserAsync(GuestInstance instance, UserRef user, UserChange change, CancellationToken cancellationToken);

    /// <summary>Sets the passwords of several users at once; all must exist.</summary>
    Task ChangePasswordsAsync(GuestInstance instance, IReadOnlyList<PasswordChange> changes, CancellationToken cancellationToken);

    /// <summary>Gives a user access to databases, which must exist.</summary>
    Task GrantAccessAsync(GuestInstance instance, UserRef user, IReadOnlyList<string> databases, CancellationToken cancellationToken);

    Task RevokeAccessAsync(GuestInstance instance, UserRef user, string database, CancellationToken cancellationToken);
}
