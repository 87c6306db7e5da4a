namespace Hoard.Datastores.MariaDb;

/// <summary>How the MariaDB manager runs servers. The defaults suit a guest agent; tests shorten them.</summary>
public sealed record MariaDbManagerOptions
{
    /// <summary>Where MariaDB is installed (each prefix holds sbin/ or bin/mariadbd); see <c>HOARD_MARIADB_PREFIXES</c>.</summary>
    public IReadOnlyList<string> Prefixes { get; init; } = MariaDbInstallation.DefaultPrefixes();

    /// <summary>
    /// Where template data directories are built, one per MariaDB version; null means a <c>.templates</c> folder
    /// beside the instance directories (the parent of each instance's directory).
    /// </summary>
    public string? TemplatesDirectory { get; init; }

    /// <summary>The user mariadbd runs as when the agent is root (Debian's package creates it).</summary>
    public string EngineUser { get; init; } = "mysql";

    /// <summary>How long a start may take before it fails with the tail of the instance's log.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a clean stop (SIGTERM) may take before the server is killed with SIGKILL.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long one administrative exchange (connect, statements) may take.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a status probe waits for an answer before reporting the service as unknown.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long building a template (mariadb-install-db), or waiting for another builder, may take.</summary>
    public TimeSpan TemplateTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>Throws when an option is out of range.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Prefixes);
        ArgumentException.ThrowIfNullOrWhiteSpace(EngineUser);
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
