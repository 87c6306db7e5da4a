namespace Hoard.Datastores.PostgreSql;

/// <summary>How the PostgreSQL manager runs servers. The defaults suit a guest agent; tests shorten or redirect them.</summary>
public sealed record PostgreSqlManagerOptions
{
    /// <summary>Where the versions are installed, one folder per major version with a bin/ inside (Debian's layout).</summary>
    public string InstallRoot { get; init; } = PostgreSqlInstallation.DefaultRoot;

    /// <summary>
    /// Where template data directories are built, one per version; null means a <c>.templates</c> folder beside
    /// the instance directories (the parent of each instance's directory).
    /// </summary>
    public string? TemplatesDirectory { get; init; }

    /// <summary>The account servers run as when the agent runs as root (PostgreSQL refuses to run as root).</summary>
    public string EngineUser { get; init; } = "postgres";

    /// <summary>How long a start may take before it fails with the tail of the instance's log.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a fast shutdown may take before the server is stopped with an immediate shutdown, then SIGKILL.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one administrative exchange (connect, statements) may take.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a status probe waits for the server to accept the admin before reporting it unknown.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long building a template (initdb) or waiting for another builder may take.</summary>
    public TimeSpan TemplateTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Throws when an option is out of range.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(InstallRoot);
        ArgumentException.ThrowIfNullOrWhiteSpace(EngineUser);
        if (TemplatesDirectory is not null && !Path.IsPathFullyQualified(TemplatesDirectory))
        {
            throw new ArgumentException($"TemplatesDirectory must be an absolute path, not '{TemplatesDirectory}'", nameof(TemplatesDirectory));
        }

        RequirePositive(StartTimeout, nameof(StartTimeout));
        RequirePositive(StopTimeout, nameof(StopTimeout));
        RequirePositive(CommandTimeout, nameof(CommandTimeout));
        RequirePositive(ProbeTimeout, nameof(ProbeTimeout));
        RequirePositive(TemplateTimeout, nameof(TemplateTimeout));
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive");
        }
    }
}
