namespace Hoard.Guest;

/// <summary>How a guest agent finds its control plane and its instances.</summary>
public sealed record GuestAgentOptions
{
    /// <summary>
    /// Every control-plane replica's base URL (http://host:port). The agent keeps a connection to each, so whichever
    /// replica runs a task reaches the instance, and losing one replica loses no instance.
    /// </summary>
    public required IReadOnlyList<Uri> ControlPlanes { get; init; }

    public required string Pool { get; init; }

    /// <summary>The pool directory: agent.key, and instances/&lt;id&gt;/guest-info.json for each instance.</summary>
    public required string PoolDir { get; init; }

    /// <summary>How often each instance's server process is checked and, if it died, restarted.</summary>
    public TimeSpan SupervisionInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Heartbeat period until the control plane says otherwise in its welcome.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest wait between attempts to reach the control plane.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    public string InstancesDir => Path.Combine(PoolDir, "instances");

    public string KeyPath => Path.Combine(PoolDir, "agent.key");
}
