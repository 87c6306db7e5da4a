namespace Hoard.Abstractions.Datastores;

/// <summary>A database (schema) to create, with Trove's optional character set and collation.</summary>
public sealed record DatabaseSpec(string Name, string? CharacterSet = null, string? Collation = null);

/// <summary>
/// Names a database user. <paramref name="Host"/> is the MySQL-style host part (<c>%</c>, an address) for
/// engines whose users have one, and null for engines whose users do not (PostgreSQL, Redis).
/// </summary>
public sealed record UserRef(string Name, string? Host = null)
{
    /// <summary>Trove's way of writing a user in a URL and in messages: <c>name@host</c>, or the name alone.</summary>
    public override string ToString() => Host is null ? Name : $"{Name}@{Host}";
}

/// <summary>A user to create: its password and the databases it may use.</summary>
public sealed record UserSpec
{
    public required string Name { get; init; }

    public string? Host { get; init; }

    public required string Password { get; init; }

    public IReadOnlyList<string> Databases { get; init; } = [];

    [System.Text.Json.Serialization.JsonIgnore]
    public UserRef Ref => new(Name, Host);

    /// <summary>Never the password: records print themselves in logs and exception messages.</summary>
    public override string ToString() => $"user {Ref} (databases: {string.Join(", ", Databases)})";
}

/// <summary>A user as listed: no password, ever.</summary>
public sealed record UserInfo(string Name, string? Host, IReadOnlyList<string> Databases);

/// <summary>Trove's update_attributes: a new name, password and/or host for an existing user.</summary>
public sealed record UserChange
{
    public string? NewName { get; init; }

    public string? NewPassword { get; init; }

    public string? NewHost { get; init; }

    public override string ToString() =>
        $"change (name: {NewName ?? "same"}, host: {NewHost ?? "same"}, password: {(NewPassword is null ? "same" : "new")})";
}

/// <summary>A new password for one user (Trove's change_passwords).</summary>
public sealed record PasswordChange(UserRef User, string Password)
{
    public override string ToString() => $"password change for {User}";
}
