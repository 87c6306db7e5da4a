namespace Hoard.Datastores.Redis;

/// <summary>How the Redis manager runs servers. The defaults suit a guest agent; tests shorten them.</summary>
public sealed record RedisManagerOptions
{
    /// <summary>The redis-server executable; null when it is not installed (starting then fails with a clear error).</summary>
    public string? ServerPath { get; init; } = RedisServerBinary.Locate();

    /// <summary>How long a start may take before it fails with the tail of the instance's log.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a clean stop may take before the server is killed with SIGKILL.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one administrative exchange (connect, AUTH, command) may take.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a status probe waits for PONG before reporting the service as unknown.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Throws when an option is out of range.</summary>
    public void Validate()
    {
        RequirePositive(StartTimeout, nameof(StartTimeout));
        RequirePositive(StopTimeout, nameof(StopTimeout));
        RequirePositive(CommandTimeout, nameof(CommandTimeout));
        RequirePositive(ProbeTimeout, nameof(ProbeTimeout));
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive");
        }
    }
}
