using StackExchange.Redis;

namespace Hoard.Bench;

/// <summary>The cluster bench's Redis client: StackExchange.Redis, which routes each key to the master owning its slot.</summary>
internal static class RedisClients
{
    /// <summary>
    /// Connects to the given nodes (and, once they form a cluster, every node they know); admin commands allowed,
    /// so the bench can send CLUSTER INFO, CLUSTER NODES and DBSIZE to one node at a time.
    /// </summary>
    public static Task<ConnectionMultiplexer> ConnectAsync(IEnumerable<(string Host, int Port)> nodes, string? user, string? password)
    {
        var options = new ConfigurationOptions
        {
            AllowAdmin = true,
            AbortOnConnectFail = true,
            User = user,
            Password = password,
            ConnectTimeout = 10_000,
            AsyncTimeout = 30_000,
            SyncTimeout = 30_000,
        };
        foreach (var (host, port) in nodes)
        {
            options.EndPoints.Add(host, port);
        }

        return ConnectionMultiplexer.ConnectAsync(options);
    }

    public static Task<ConnectionMultiplexer> ConnectAsync(string host, int port, string? user, string? password) =>
        ConnectAsync([(host, port)], user, password);

    /// <summary>The node's CLUSTER NODES, parsed (nodes flagged noaddr are left out).</summary>
    public static async Task<ClusterConfiguration> NodesAsync(this IServer server) =>
        await server.ClusterNodesAsync(CommandFlags.None) ?? throw new InvalidOperationException($"{server.EndPoint} answered no CLUSTER NODES");

    /// <summary>The node's CLUSTER INFO text.</summary>
    public static async Task<string> ClusterInfoAsync(this IServer server) =>
        (await server.ExecuteAsync("CLUSTER", "INFO")).ToString();

    /// <summary>Failing, suspected of failing, still in its handshake, or without an address.</summary>
    public static bool IsFailing(this ClusterNode node) => node.IsFail || node.IsPossiblyFail || node.IsHandshake || node.IsNoAddr;

    public static int SlotCount(this ClusterNode node) => node.Slots.Sum(s => s.To - s.From + 1);
}
