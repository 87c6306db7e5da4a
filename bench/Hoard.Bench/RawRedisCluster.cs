using System.Diagnostics;
using System.Net.Sockets;
using Hoard.Testing;
using StackExchange.Redis;

namespace Hoard.Bench;

/// <summary>
/// The reference for the cluster bench: N cluster-enabled redis-server processes started by hand, each on its own
/// loopback address and port 6379 under one temp dir, persisting as Hoard's instances do (AOF, fsync every second,
/// no RDB snapshots) and announcing its own address on the cluster bus. One client is connected to every node for the
/// cluster's life. Disposing closes it, kills every server and removes the dir.
/// </summary>
internal sealed class RawRedisCluster : IAsyncDisposable
{
    public const int Port = 6379;

    private readonly string _dir;
    private readonly List<Process> _processes = [];
    private ConnectionMultiplexer? _client;

    private RawRedisCluster(string dir, IReadOnlyList<string> addresses)
    {
        _dir = dir;
        Addresses = addresses;
    }

    public IReadOnlyList<string> Addresses { get; }

    /// <summary>host:port of each node, as redis-cli --cluster takes them.</summary>
    public IReadOnlyList<string> Endpoints => [.. Addresses.Select(a => $"{a}:{Port}")];

    /// <summary>Starts one server per address (127.x.y.1 ...) and returns once every one answers PING.</summary>
    public static async Task<RawRedisCluster> StartAsync(string subnet, int count, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(Path.GetTempPath(), "hoard-bench-cluster-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var cluster = new RawRedisCluster(dir, [.. Enumerable.Range(1, count).Select(i => $"{subnet}.{i}")]);
        try
        {
            var server = Binaries.Require("redis-server");
            foreach (var address in cluster.Addresses)
            {
                var nodeDir = Path.Combine(dir, address);
                Directory.CreateDirectory(nodeDir);
                cluster._processes.Add(Process.Start(new ProcessStartInfo(server,
                [
                    "--bind", address, "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "--protected-mode", "no", "--daemonize", "no",
                    "--dir", nodeDir, "--logfile", Path.Combine(nodeDir, "redis.log"), "--loglevel", "notice",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",

                    // A MEET reaches the other node from 127.0.0.1, the kernel's source address for any 127/8
                    // destination; without announcing its own address a node would be recorded, and called back, there.
                    "--cluster-announce-ip", address,
                    "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                ]) { UseShellExecute = false })!);
            }

            await Task.WhenAll(cluster.Addresses.Select(a => ListeningAsync(a, cancellationToken)));
            cluster._client = await RedisClients.ConnectAsync(cluster.Addresses.Select(a => (a, Port)), null, null);
            await Task.WhenAll(cluster.Addresses.Select(cluster.Server).Select(s => s.PingAsync()));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until every given node (default: all) reports cluster_state:ok.</summary>
    public async Task WaitStateOkAsync(IEnumerable<string>? addresses, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waiting = (addresses ?? Addresses).Select(Server).ToList();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var states = await Task.WhenAll(waiting.Select(s => s.ClusterInfoAsync()));
            waiting = [.. waiting.Where((_, i) => !states[i].Contains("cluster_state:ok", StringComparison.Ordinal))];
            if (waiting.Count == 0)
            {
                return;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"{waiting.Count} nodes were not cluster_state:ok within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(2, cancellationToken);
        }
    }

    /// <summary>
    /// Waits until every node knows all <paramref name="nodes"/> nodes, connected and none failing, and reports
    /// cluster_state:ok: what redis-cli --cluster rebalance's own check wants before it moves anything.
    /// </summary>
    public async Task WaitAgreedAsync(int nodes, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var agreed = true;
            foreach (var server in Addresses.Select(Server))
            {
                var seen = (await server.NodesAsync()).Nodes;
                var info = await server.ClusterInfoAsync();
                agreed &= seen.Count == nodes && seen.All(n => n.IsMyself || (n.IsConnected && !n.IsFailing())) && info.Contains("cluster_state:ok", StringComparison.Ordinal);
            }

            if (agreed)
            {
                return;
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"the {nodes} nodes did not agree on the cluster within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private IServer Server(string address) => _client!.GetServer(address, Port);

    /// <summary>Waits until redis-server accepts connections on the address.</summary>
    private static async Task ListeningAsync(string address, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(address, Port, cancellationToken);
                return;
            }
            catch (SocketException)
            {
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new TimeoutException($"redis-server on {address} did not accept connections within 10 s");
            }

            await Task.Delay(1, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.CloseAsync(allowCommandsToComplete: false);
            await _client.DisposeAsync();
        }

        foreach (var p in _processes)
        {
            try
            {
                p.Kill();
                await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (InvalidOperationException)
            {
            }

            p.Dispose();
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
