using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.IO;
using Hoard.Datastores.Redis.Cluster;
using Hoard.Datastores.Redis.Resp;

namespace Hoard.Datastores.Redis;

/// <summary>
/// Redis Cluster, the guest side: an instance prepared with a <see cref="ClusterMembership"/> runs with
/// cluster-enabled and keeps the members' shared secret in cluster.secret; the control plane then meets the
/// members, hands out slots, adds replicas and moves slots through these calls. Every call is idempotent.
/// </summary>
public sealed partial class RedisManager : IClusterManager
{
    private static readonly TimeSpan GossipPollDelay = TimeSpan.FromMilliseconds(50);

    public TimeSpan CrashRestartDelay(GuestInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return IsClusterMember(InstanceFiles.For(instance)) ? _options.ClusterNodeTimeout * _options.CrashRestartFactor : TimeSpan.Zero;
    }

    public async Task<ClusterNodeInfo> GetNodeAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var reply = await InClusterAsync(instance, _options.CommandTimeout, (c, ct) => c.ExecuteAsync(["CLUSTER", "MYID"], ct), cancellationToken);
        return new ClusterNodeInfo(reply.Text ?? throw new RespProtocolException("CLUSTER MYID answered no id"), instance.Address, instance.Port);
    }

    public async Task<string?> GetNodeIdForRemovalAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        var myself = (await InClusterAsync(instance, _options.CommandTimeout, ReadViewAsync, cancellationToken)).Myself;
        return myself.Slots.Count == 0 && myself.Importing.Count == 0 && myself.Migrating.Count == 0 ? myself.NodeId : null;
    }

    public async Task RemoveNodesAsync(GuestInstance instance, IReadOnlyList<string> nodeIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(nodeIds);
        var forgotten = await InClusterAsync(
            instance,
            _options.CommandTimeout,
            async (connection, ct) =>
            {
                var myId = (await connection.ExecuteAsync(["CLUSTER", "MYID"], ct)).Text;
                var others = nodeIds.Where(id => !string.IsNullOrWhiteSpace(id) && id != myId).Distinct(StringComparer.Ordinal).ToList();
                if (others.Count == 0)
                {
                    return 0;
                }

                var batch = new RespCommandBatch();
                foreach (var id in others)
                {
                    batch.Add(["CLUSTER", "FORGET", id]);
                }

                var replies = await connection.PipelineAsync(batch, ct);
                var count = 0;
                foreach (var reply in replies)
                {
                    switch (reply)
                    {
                        case { Kind: not RespKind.Error }:
                            count++;
                            break;
                        case { Text: { } text } when text.StartsWith("ERR Unknown node", StringComparison.Ordinal):
                            break;
                        case { Text: { } text } when text.Contains("forget my master", StringComparison.Ordinal):
                            throw DatastoreOperationException.Conflict("This node replicates one of the nodes to remove; it cannot forget its own master.");
                        default:
                            throw new RedisErrorException(reply.Text ?? "ERR");
                    }
                }

                return count;
            },
            cancellationToken);
        _logger.ClusterNodesForgotten(instance.Id, forgotten);
    }

    public async Task MeetAsync(GuestInstance instance, string address, int port, CancellationToken cancellationToken)
    {
        if (!IPAddress.TryParse(address, out var peer))
        {
            throw new ArgumentException($"'{address}' is not an IP address", nameof(address));
        }

        // The bus listens on port+10000, which must be a port too.
        if (port is <= IPEndPoint.MinPort or > IPEndPoint.MaxPort - 10000)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, $"a cluster member's port is 1-{IPEndPoint.MaxPort - 10000}");
        }

        if (peer.Equals(EndPointOf(instance).Address) && port == instance.Port)
        {
            return;
        }

        var met = await InClusterAsync(
            instance,
            _options.CommandTimeout,
            async (connection, ct) =>
            {
                // Meeting a node that is known (or in handshake) already would start a second handshake with it.
                var view = await ReadViewAsync(connection, ct);
                if (view.Nodes.Any(n => !n.Myself && n.Port == port && IPAddress.TryParse(n.Address, out var a) && a.Equals(peer)))
                {
                    return false;
                }

                await connection.ExecuteAsync(["CLUSTER", "MEET", peer.ToString(), port.ToString(CultureInfo.InvariantCulture)], ct);
                return true;
            },
            cancellationToken);
        if (met)
        {
            _logger.ClusterMet(instance.Id, peer.ToString(), port);
        }
    }

    public async Task AddSlotsAsync(GuestInstance instance, int firstSlot, int lastSlot, CancellationToken cancellationToken)
    {
        if (firstSlot < 0 || lastSlot >= ClusterNodesParser.SlotCount || firstSlot > lastSlot)
        {
            throw new ArgumentException($"slots {firstSlot}-{lastSlot} are not a range within 0-{ClusterNodesParser.SlotCount - 1}");
        }

        var added = await InClusterAsync(
            instance,
            _options.CommandTimeout,
            async (connection, ct) =>
            {
                var view = await ReadViewAsync(connection, ct);
                var missing = new List<int>();
                for (var slot = firstSlot; slot <= lastSlot; slot++)
                {
                    var owner = view.OwnerOf(slot);
                    if (owner is null)
                    {
                        missing.Add(slot);
                    }
                    else if (owner != view.Myself.NodeId)
                    {
                        throw DatastoreOperationException.Conflict($"Slot {slot} is owned by node {owner} already.");
                    }
                }

                var ranges = ClusterNodesParser.ToRanges(missing);

                // A warm member's placeholder slot outside the range goes back in the same round trip as the range is
                // taken, so the node never stands without slots (and never counts itself a minority) in between.
                var placeholders = view.Nodes.Count == 1
                    ? HashSlots.Expand(view.Myself.Slots).Where(s => s < firstSlot || s > lastSlot).ToList()
                    : [];
                if (ranges.Count == 0 && placeholders.Count == 0)
                {
                    return ranges;
                }

                var batch = new RespCommandBatch();
                if (ranges.Count > 0)
                {
                    batch.Add(["CLUSTER", "ADDSLOTSRANGE", .. ranges.SelectMany(r => new[] { r.First.ToString(CultureInfo.InvariantCulture), r.Last.ToString(CultureInfo.InvariantCulture) })]);
                }

                if (placeholders.Count > 0)
                {
                    batch.Add(["CLUSTER", "DELSLOTS", .. placeholders.Select(p => p.ToString(CultureInfo.InvariantCulture))]);
                }

                var error = (await connection.PipelineAsync(batch, ct)).FirstOrDefault(r => r.Kind == RespKind.Error);
                return error is null ? ranges
                    : error.Text?.Contains("already busy", StringComparison.Ordinal) == true
                        ? throw DatastoreOperationException.Conflict($"Another node took some of slots {firstSlot}-{lastSlot} meanwhile: {error.Text}")
                        : throw new RedisErrorException(error.Text ?? "ERR");
            },
            cancellationToken);
        if (added.Count > 0)
        {
            _logger.ClusterSlotsAdded(instance.Id, string.Join(',', added));
        }
    }

    public async Task ReplicateAsync(GuestInstance instance, string masterNodeId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(masterNodeId);
        var replicated = await InClusterAsync(
            instance,
            _options.ClusterGossipTimeout + _options.CommandTimeout,
            async (connection, ct) =>
            {
                var started = Stopwatch.GetTimestamp();
                while (true)
                {
                    var view = await ReadViewAsync(connection, ct);
                    var myself = view.Myself;
                    if (!myself.IsMaster && myself.MasterId == masterNodeId)
                    {
                        return false;
                    }

                    if (myself.NodeId == masterNodeId)
                    {
                        throw new ArgumentException("a node cannot replicate itself");
                    }

                    // A node met a moment ago is known only once its handshake is done; until then REPLICATE says "Unknown node".
                    var master = view.Find(masterNodeId);
                    if (master is { IsMaster: false, MasterId: not null })
                    {
                        throw DatastoreOperationException.Conflict($"Node {masterNodeId} is a replica; a node can replicate only a master.");
                    }

                    if (master is not null)
                    {
                        var reply = await connection.SendAsync(["CLUSTER", "REPLICATE", masterNodeId], ct);
                        if (reply.Kind != RespKind.Error)
                        {
                            return true;
                        }

                        if (reply.Text?.Contains("must be empty", StringComparison.Ordinal) == true)
                        {
                            throw DatastoreOperationException.Conflict("This node holds slots or keys; only an empty master can become a replica.");
                        }

                        if (reply.Text?.StartsWith("ERR Unknown node", StringComparison.Ordinal) != true)
                        {
                            throw new RedisErrorException(reply.Text ?? "ERR");
                        }
                    }

                    if (Stopwatch.GetElapsedTime(started) > _options.ClusterGossipTimeout)
                    {
                        throw DatastoreOperationException.NotFound(
                            $"Node {masterNodeId} is not known to this node after {_options.ClusterGossipTimeout.TotalSeconds:F0} s; meet it first.");
                    }

                    _logger.ClusterWaitingForGossip(instance.Id, $"master {masterNodeId} to be known");
                    await Task.Delay(GossipPollDelay, ct);
                }
            },
            cancellationToken);
        if (replicated)
        {
            _logger.ClusterReplicating(instance.Id, masterNodeId);
        }
    }

    public Task<ClusterTopology> GetTopologyAsync(GuestInstance instance, CancellationToken cancellationToken) =>
        InClusterAsync(
            instance,
            _options.CommandTimeout,
            async (connection, ct) =>
            {
                var replies = await connection.PipelineAsync(new RespCommandBatch().Add(["CLUSTER", "INFO"]).Add(["CLUSTER", "NODES"]), ct);
                if (replies.FirstOrDefault(r => r.Kind == RespKind.Error) is { } error)
                {
                    throw new RedisErrorException(error.Text ?? "ERR");
                }

                var (state, assigned) = ClusterNodesParser.ParseInfo(replies[0].Text ?? string.Empty);
                return new ClusterTopology(state, assigned, ClusterNodesParser.Parse(replies[1].Text ?? string.Empty).Nodes);
            },
            cancellationToken);

    public async Task<SlotMoveResult> MoveSlotsAsync(GuestInstance instance, SlotMove move, CancellationToken cancellationToken)
    {
        var slots = SlotMigrator.Validate(move);
        var secret = await ReadClusterSecretAsync(instance, InstanceFiles.For(instance), cancellationToken);

        // No deadline for the whole move (a million keys take a while); each round trip of it has one.
        return await InClusterAsync(
            instance,
            Timeout.InfiniteTimeSpan,
            (connection, ct) => new SlotMigrator(instance.Id, connection, move, secret, _options, _logger).MoveAsync(slots, ct),
            cancellationToken);
    }

    public async Task CompleteAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        await InClusterAsync(instance, _options.CommandTimeout, (c, ct) => c.ExecuteAsync(["CLUSTER", "SAVECONFIG"], ct), cancellationToken);
        _logger.ClusterConfigSaved(instance.Id);
    }

    private static bool IsClusterMember(InstanceFiles files) => File.Exists(files.ClusterSecret);

    /// <summary>
    /// The cluster settings of a member, or null for an instance that is none. The secret comes with prepare's
    /// membership once and is kept in cluster.secret; a later prepare (a resize) need not carry it again.
    /// </summary>
    private async Task<ClusterSettings?> PrepareClusterSecretAsync(GuestInstance instance, InstanceFiles files, CancellationToken cancellationToken)
    {
        if (instance.Cluster is { } membership)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(membership.Secret, nameof(instance));
            if (membership.Secret.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                throw new ArgumentException("the cluster secret must not contain white space or control characters", nameof(instance));
            }

            if (await PrivateFile.WriteAsync(files.ClusterSecret, membership.Secret + "\n", overwrite: false, cancellationToken))
            {
                _logger.ClusterSecretWritten(instance.Id, membership.ToString());
            }
            else if (await PrivateFile.ReadTrimmedAsync(files.ClusterSecret, cancellationToken) != membership.Secret)
            {
                // A warm member (built ahead of any cluster) takes its cluster's secret when a cluster adopts it; a node
                // that has met another node or owns slots belongs to a cluster already and keeps its secret.
                if (!await IsUnjoinedAsync(instance, files, cancellationToken))
                {
                    throw DatastoreOperationException.Conflict($"Instance {instance.Id} is a member of a cluster with another secret.");
                }

                await PrivateFile.WriteAsync(files.ClusterSecret, membership.Secret + "\n", overwrite: true, cancellationToken);
                await RunAdminCommandsAsync(instance, [["CONFIG", "SET", "masterauth", membership.Secret]], cancellationToken);
                _logger.ClusterSecretWritten(instance.Id, membership.ToString());
            }

            // cluster.secret holds exactly this secret now.
            return new ClusterSettings(membership.Secret, _options.ClusterNodeTimeout);
        }

        return IsClusterMember(files)
            ? new ClusterSettings(await ReadClusterSecretAsync(instance, files, cancellationToken), _options.ClusterNodeTimeout)
            : null;
    }

    /// <summary>A running member that knows no other node: one no cluster has adopted yet (a warm one holds only its placeholder slot).</summary>
    private async Task<bool> IsUnjoinedAsync(GuestInstance instance, InstanceFiles files, CancellationToken cancellationToken)
    {
        if (LivePid(instance, files) is null)
        {
            return false;
        }

        var view = await InClusterAsync(instance, _options.CommandTimeout, ReadViewAsync, cancellationToken);
        return view.Nodes.Count == 1 && view.Myself.IsMaster;
    }

    /// <summary>
    /// A warm member takes slot 0 as its placeholder; an adopted one that becomes a replica gives its slots back.
    /// Only a node that knows no other node is touched, so no cluster's slots ever change here.
    /// </summary>
    private async Task SettlePlaceholderSlotAsync(GuestInstance instance, CancellationToken cancellationToken)
    {
        if (instance.Cluster is not { } membership || !(membership.Warm || membership.Replica))
        {
            return;
        }

        await InClusterAsync(
            instance,
            _options.CommandTimeout,
            async (connection, ct) =>
            {
                var view = await ReadViewAsync(connection, ct);
                if (view.Nodes.Count != 1)
                {
                    return 0;
                }

                var owned = HashSlots.Expand(view.Myself.Slots); // alone, this node owns every slot the view shows owned
                string[]? command = membership.Warm && owned.Count == 0 ? ["CLUSTER", "ADDSLOTS", "0"]
                    : membership.Replica && owned.Count > 0 ? ["CLUSTER", "DELSLOTS", .. owned.Select(s => s.ToString(CultureInfo.InvariantCulture))]
                    : null;
                if (command is not null)
                {
                    var reply = await connection.SendAsync(command, ct);
                    if (reply.Kind == RespKind.Error)
                    {
                        throw new RedisErrorException(reply.Text ?? "ERR");
                    }
                }

                return 0;
            },
            cancellationToken);
    }

    /// <summary>Makes sure the cluster user exists with the cluster secret (users.acl is written only once, so an older one may lack it).</summary>
    private async Task EnsureClusterUserAsync(GuestInstance instance, ClusterSettings cluster, CancellationToken cancellationToken)
    {
        var hash = RedisConfig.PasswordHash(cluster.Secret);
        var user = (await RunAdminCommandsAsync(instance, [["ACL", "GETUSER", RedisConfig.ClusterUser]], cancellationToken))[0];
        var fields = user.Items ?? [];
        IReadOnlyList<RespReply> passwords = [];
        for (var i = 0; i + 1 < fields.Count; i += 2)
        {
            if (fields[i].Text == "passwords")
            {
                passwords = fields[i + 1].Items ?? [];
            }
        }

        if (user.Kind != RespKind.Null && passwords.Count == 1 && passwords[0].Text == hash)
        {
            return;
        }

        await RunAdminCommandsAsync(
            instance,
            [["ACL", "SETUSER", RedisConfig.ClusterUser, "reset", "on", "#" + hash, "~*", "&*", "+@all"], ["ACL", "SAVE"]],
            cancellationToken);
        _logger.ClusterUserSet(instance.Id);
    }

    private static async Task<string> ReadClusterSecretAsync(GuestInstance instance, InstanceFiles files, CancellationToken cancellationToken) =>
        await PrivateFile.ReadTrimmedAsync(files.ClusterSecret, cancellationToken)
        ?? throw DatastoreOperationException.NotSupported($"Redis instance {instance.Id} is not a cluster member.");

    private static async Task<ClusterView> ReadViewAsync(RespConnection connection, CancellationToken cancellationToken) =>
        ClusterNodesParser.Parse((await connection.ExecuteAsync(["CLUSTER", "NODES"], cancellationToken)).Text ?? string.Empty);

    /// <summary>
    /// Runs <paramref name="work"/> over an admin connection to a cluster member, within <paramref name="timeout"/>
    /// (connecting within the command timeout); an instance that is no member is refused as not supported.
    /// </summary>
    private async Task<T> InClusterAsync<T>(
        GuestInstance instance,
        TimeSpan timeout,
        Func<RespConnection, CancellationToken, Task<T>> work,
        CancellationToken cancellationToken)
    {
        var endPoint = EndPointOf(instance);
        var files = InstanceFiles.For(instance);
        if (!IsClusterMember(files))
        {
            throw DatastoreOperationException.NotSupported($"Redis instance {instance.Id} is not a cluster member.");
        }

        var password = await ReadAdminPasswordAsync(instance, files, cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var limit = _options.CommandTimeout;
        deadline.CancelAfter(limit);
        try
        {
            await using var connection = await RespConnection.ConnectAsync(endPoint, deadline.Token);
            await connection.AuthAsync(RedisConfig.AdminUser, password, deadline.Token);
            limit = timeout;
            deadline.CancelAfter(limit);
            return await work(connection, deadline.Token);
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"redis instance {instance.Id} is not reachable at {endPoint}: {e.Message}", e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"redis instance {instance.Id} at {endPoint} did not answer within {limit.TotalSeconds:F0} s");
        }
        catch (RedisErrorException e) when (e.Message.Contains("cluster support disabled", StringComparison.Ordinal))
        {
            throw DatastoreOperationException.NotSupported($"Redis instance {instance.Id} runs without cluster support; prepare it as a cluster member.");
        }
    }
}
