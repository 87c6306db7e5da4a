namespace Hoard.Abstractions.Storage;

/// <summary>A configuration group: named parameter values for one datastore version, attachable to that version's instances.</summary>
public sealed record ConfigurationRecord
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public string? Description { get; init; }

    public required string ProjectId { get; init; }

    public required string DatastoreVersionId { get; init; }

    /// <summary>The values as a JSON object (parameter name → JSON value as the user gave it, after validation).</summary>
    public required string Values { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    public bool Deleted { get; init; }
}

/// <summary>A partial update of a configuration group; null fields stay as they are.</summary>
public sealed record ConfigurationChange
{
    public string? Name { get; init; }

    /// <summary>An empty string clears the description.</summary>
    public string? Description { get; init; }

    /// <summary>The new values, a JSON object replacing the old one whole.</summary>
    public string? Values { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>What deleting a configuration group did.</summary>
public enum ConfigurationDeletion
{
    Deleted,

    /// <summary>There was no such live group.</summary>
    Missing,

    /// <summary>Refused: a live instance has it attached.</summary>
    InUse,
}

/// <summary>What attaching (or detaching) a configuration group did.</summary>
public enum ConfigurationAttach
{
    Done,

    /// <summary>No such live instance.</summary>
    MissingInstance,

    /// <summary>The group to attach is not live.</summary>
    MissingConfiguration,

    /// <summary>The instance's group was not the expected one (another attach or detach came first); nothing changed.</summary>
    Changed,
}
