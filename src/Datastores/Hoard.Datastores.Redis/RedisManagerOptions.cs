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

    /// <summary>
    /// A cluster member's cluster-node-timeout: how long a peer may be unreachable before it is suspected failing.
    /// Failover of a dead master takes a few of these, so the agent waits <see cref="CrashRestartFactor"/> of them
    /// before restarting a dead cluster member.
    /// </summary>
    public TimeSpan ClusterNodeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How many node timeouts the agent waits before restarting a dead cluster member.</summary>
    public int CrashRestartFactor { get; init; } = 3;

    /// <summary>
    /// How long a cluster call waits for gossip to tell this node about a node it names (a replicate or slot move
    /// right after a meet) before it fails.
    /// </summary>
    public TimeSpan ClusterGossipTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// MIGRATE's timeout during slot moves: the longest the source waits on the target in one batch (Redis blocks
    /// while it migrates a batch, so batches are kept small rather than this long).
    /// </summary>
    public TimeSpan MigrateTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Throws when an option is out of range.</summary>
    public void Validate()
    {
        RequirePositive(ClusterNodeTimeout, nameof(ClusterNodeTimeout));
        RequirePositive(ClusterGossipTimeout, nameof(ClusterGossipTimeout));
        RequirePositive(MigrateTimeout, nameof(MigrateTimeout));
        ArgumentOutOfRangeException.ThrowIfNegative(CrashRestartFactor, nameof(CrashRestartFactor));
        if (ClusterNodeTimeout.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ClusterNodeTimeout), ClusterNodeTimeout, "ClusterNodeTimeout must be whole milliseconds");
        }

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
