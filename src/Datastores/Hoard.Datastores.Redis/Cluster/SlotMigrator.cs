using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;
using Hoard.Datastores.Redis.Resp;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.Redis.Cluster;

/// <summary>
/// Moves hash slots from this node (the source) to another master, live, the way Redis Cluster resharding
/// works: the target imports, the source migrates, keys go over with MIGRATE, and the target, the source and
/// the other masters are told the new owner, in that order. Clients keep working throughout: a key still on
/// the source is served there, a missing one is answered with ASK (to the target), a closed slot with MOVED.
/// </summary>
/// <remarks>
/// <para>
/// Slots go in rounds, and every step of a round is one pipelined batch per node: SETSLOT IMPORTING for the
/// round's slots on the target, SETSLOT MIGRATING on the source, GETKEYSINSLOT and MIGRATE for several slots
/// per round trip, then SETSLOT NODE on the target, the source and the masters. Redis saves its cluster
/// config once per batch rather than once per slot, which is most of the gain over one slot at a time.
/// </para>
/// <para>
/// Resumable: the state of every slot is read from both nodes first. A slot the target owns already is only
/// closed (left-over keys moved, open state cleared, owners told); a slot an earlier, killed attempt left
/// importing or migrating is taken up where it stopped, since IMPORTING and MIGRATING may be set again.
/// </para>
/// </remarks>
internal sealed class SlotMigrator
{
    /// <summary>Slots per round: how many may be open at once, and how many SETSLOTs share one batch.</summary>
    private const int SlotsPerRound = 128;

    /// <summary>Keys in flight per round trip of GETKEYSINSLOT and MIGRATE (a MIGRATE blocks the source while it runs).</summary>
    private const int MaxKeysInFlight = 16 * 1024;

    /// <summary>Round trips in a row in which no MIGRATE moved anything before the move gives up.</summary>
    private const int MaxStalledPasses = 20;

    private static readonly TimeSpan GossipPollDelay = TimeSpan.FromMilliseconds(50);

    private readonly string _instanceId;
    private readonly RespConnection _source;
    private readonly SlotMove _move;
    private readonly string _secret;
    private readonly RedisManagerOptions _options;
    private readonly ILogger _logger;
    private readonly IPEndPoint _targetEndPoint;
    private readonly string _migrateTimeout;
    private readonly List<MasterLink> _masters = [];
    private RespConnection? _target;
    private bool _mastersListed;
    private string _sourceId = string.Empty;
    private long _keysMoved;

    public SlotMigrator(string instanceId, RespConnection source, SlotMove move, string secret, RedisManagerOptions options, ILogger logger)
    {
        _instanceId = instanceId;
        _source = source;
        _move = move;
        _secret = secret;
        _options = options;
        _logger = logger;
        _targetEndPoint = new IPEndPoint(IPAddress.Parse(move.TargetAddress), move.TargetPort);
        _migrateTimeout = ((long)options.MigrateTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Checks a move's arguments; what is wrong with them is an <see cref="ArgumentException"/>.</summary>
    public static IReadOnlyList<int> Validate(SlotMove move)
    {
        ArgumentNullException.ThrowIfNull(move);
        ArgumentException.ThrowIfNullOrWhiteSpace(move.TargetNodeId, nameof(move));
        if (move.Slots is null || move.Slots.Count == 0)
        {
            throw new ArgumentException("the slot move names no slots", nameof(move));
        }

        if (move.Slots.FirstOrDefault(r => r is null || r.First < 0 || r.First > r.Last || r.Last >= ClusterNodesParser.SlotCount) is { } bad)
        {
            throw new ArgumentException($"slot range {bad} is not within 0-{ClusterNodesParser.SlotCount - 1}", nameof(move));
        }

        if (!IPAddress.TryParse(move.TargetAddress, out _))
        {
            throw new ArgumentException($"the target address '{move.TargetAddress}' is not an IP address", nameof(move));
        }

        if (move.TargetPort is <= IPEndPoint.MinPort or > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"the target port {move.TargetPort} is not a TCP port", nameof(move));
        }

        if (move.KeysPerBatch is < 1 or > MaxKeysInFlight)
        {
            throw new ArgumentException($"keys per batch must be 1-{MaxKeysInFlight}, not {move.KeysPerBatch}", nameof(move));
        }

        return HashSlots.Expand(move.Slots);
    }

    public async Task<SlotMoveResult> MoveAsync(IReadOnlyList<int> slots, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            _target = await ConnectAsync(_targetEndPoint, cancellationToken);
            var plans = await PlanAsync(slots, cancellationToken);
            var moved = plans.Count(p => !p.TargetOwns);
            _logger.SlotMoveStarting(moved, _instanceId, _move.TargetNodeId, _move.TargetAddress, _move.TargetPort);
            foreach (var round in plans.Chunk(SlotsPerRound))
            {
                await MoveRoundAsync(round, cancellationToken);
            }

            _logger.SlotMoveDone(moved, _keysMoved, _instanceId, _move.TargetNodeId, Stopwatch.GetElapsedTime(started).TotalMilliseconds, plans.Count - moved);
            return new SlotMoveResult(moved, _keysMoved);
        }
        finally
        {
            if (_target is not null)
            {
                await _target.DisposeAsync();
            }

            foreach (var master in _masters)
            {
                if (master.Connection is not null)
                {
                    await master.Connection.DisposeAsync();
                }
            }
        }
    }

    /// <summary>What each slot needs, from both nodes' views; refuses the whole move before touching anything.</summary>
    private async Task<List<SlotPlan>> PlanAsync(IReadOnlyList<int> slots, CancellationToken cancellationToken)
    {
        var (source, target) = await ReadViewsAsync(cancellationToken);
        _sourceId = source.Myself.NodeId;
        var plans = new List<SlotPlan>(slots.Count);
        foreach (var slot in slots)
        {
            var targetOwns = target.OwnerOf(slot) == _move.TargetNodeId;
            var sourceOwns = source.OwnerOf(slot) == _sourceId;
            var sourceOpen = source.OpenSlotOf(slot);
            if (!targetOwns && !sourceOwns)
            {
                throw DatastoreOperationException.Conflict(
                    $"Slot {slot} is owned by {(source.OwnerOf(slot) is { } owner ? "node " + owner : "no node")}, not by this node, so it cannot be moved from here.");
            }

            if (sourceOpen is { Importing: false } migrating && migrating.PeerId != _move.TargetNodeId)
            {
                throw DatastoreOperationException.Conflict(
                    $"Slot {slot} is being migrated to node {migrating.PeerId}, not to {_move.TargetNodeId}; finish that move first.");
            }

            var targetOpen = target.OpenSlotOf(slot) is not null;
            if (sourceOpen is not null || (targetOpen && !targetOwns))
            {
                _logger.SlotMoveResuming(slot, _instanceId, $"{sourceOpen?.ToString() ?? "closed"} here, {target.OpenSlotOf(slot)?.ToString() ?? "closed"} on the target");
            }

            plans.Add(new SlotPlan(
                slot,
                TargetOwns: targetOwns,
                TargetOpen: targetOpen,
                SourceOwns: sourceOwns,
                SourceSettled: !sourceOwns && source.OwnerOf(slot) == _move.TargetNodeId && sourceOpen is null));
        }

        return plans;
    }

    /// <summary>Both views, once each node knows the other (right after a meet, gossip may not have told them yet).</summary>
    private async Task<(ClusterView Source, ClusterView Target)> ReadViewsAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var source = await ReadViewAsync(_source, "this node", cancellationToken);
            var target = await ReadViewAsync(_target!, "the target", cancellationToken);
            if (target.Myself.NodeId != _move.TargetNodeId)
            {
                throw new ArgumentException($"the node at {_targetEndPoint} is {target.Myself.NodeId}, not {_move.TargetNodeId}");
            }

            if (source.Myself.NodeId == _move.TargetNodeId)
            {
                throw new ArgumentException("a node cannot move slots to itself");
            }

            if (!target.Myself.IsMaster)
            {
                throw DatastoreOperationException.Conflict($"Node {_move.TargetNodeId} is a replica; slots can move only to a master.");
            }

            var targetKnown = source.Find(_move.TargetNodeId) is { Failing: false, IsMaster: true };
            var sourceKnown = target.Find(source.Myself.NodeId) is { Failing: false };
            if (targetKnown && sourceKnown)
            {
                return (source, target);
            }

            if (Stopwatch.GetElapsedTime(started) > _options.ClusterGossipTimeout)
            {
                throw new InvalidOperationException(
                    $"this node and node {_move.TargetNodeId} do not know each other as healthy masters after {_options.ClusterGossipTimeout.TotalSeconds:F0} s; meet them first");
            }

            _logger.ClusterWaitingForGossip(_instanceId, $"this node and the target {_move.TargetNodeId} to know each other");
            await Task.Delay(GossipPollDelay, cancellationToken);
        }
    }

    private async Task MoveRoundAsync(SlotPlan[] round, CancellationToken cancellationToken)
    {
        var target = _target!;
        var node = new[] { "NODE", _move.TargetNodeId };

        // 1. The target imports first: a client sent there by ASK must find the slot importing, not MOVED back.
        //    A slot the target owns already only has stray open state cleared.
        var batch = new RespCommandBatch();
        foreach (var plan in round)
        {
            if (!plan.TargetOwns)
            {
                batch.Add(["CLUSTER", "SETSLOT", Slot(plan), "IMPORTING", _sourceId]);
            }
            else if (plan.TargetOpen)
            {
                batch.Add(["CLUSTER", "SETSLOT", Slot(plan), "STABLE"]);
            }
        }

        await ExpectOkAsync(target, batch, "the target", cancellationToken);

        // 2. This node migrates: from now on a key it does not have is the target's (ASK), so no new key lands here.
        foreach (var plan in round.Where(p => p.SourceOwns))
        {
            batch.Add(["CLUSTER", "SETSLOT", Slot(plan), "MIGRATING", _move.TargetNodeId]);
        }

        await ExpectOkAsync(_source, batch, "this node", cancellationToken);

        // 3. The keys.
        await MoveKeysAsync([.. round.Select(p => p.Slot)], cancellationToken);

        // 4. The new owner: the target first (which bumps its config epoch, so its claim wins over the source's),
        //    then this node, then every other master, rather than waiting for gossip.
        foreach (var plan in round.Where(p => !p.TargetOwns))
        {
            batch.Add(["CLUSTER", "SETSLOT", Slot(plan), .. node]);
        }

        await ExpectOkAsync(target, batch, "the target", cancellationToken);
        foreach (var plan in round.Where(p => !p.SourceSettled))
        {
            batch.Add(["CLUSTER", "SETSLOT", Slot(plan), .. node]);
        }

        await ExpectOkAsync(_source, batch, "this node", cancellationToken);
        await TellMastersAsync(round, cancellationToken);
    }

    /// <summary>GETKEYSINSLOT and MIGRATE for several slots per round trip, until none of them has a key left here.</summary>
    private async Task MoveKeysAsync(List<int> slots, CancellationToken cancellationToken)
    {
        var slotsPerPass = Math.Max(1, MaxKeysInFlight / _move.KeysPerBatch);
        var replace = new HashSet<int>();
        var batchSize = _move.KeysPerBatch.ToString(CultureInfo.InvariantCulture);
        var batch = new RespCommandBatch();
        foreach (var chunk in slots.Chunk(slotsPerPass))
        {
            var pending = chunk;
            var stalled = 0;
            while (pending.Length > 0)
            {
                foreach (var slot in pending)
                {
                    batch.Add(["CLUSTER", "GETKEYSINSLOT", slot.ToString(CultureInfo.InvariantCulture), batchSize]);
                }

                var keys = await GetKeysAsync(batch, pending.Length, cancellationToken);
                var withKeys = pending.Select((slot, i) => (Slot: slot, Keys: keys[i])).Where(s => s.Keys.Length > 0).ToArray();
                if (withKeys.Length == 0)
                {
                    break;
                }

                foreach (var (slot, slotKeys) in withKeys)
                {
                    // AUTH2 as the cluster user: the target's own admin password is not this node's to know.
                    string[] head = replace.Contains(slot)
                        ? ["MIGRATE", _move.TargetAddress, Port, string.Empty, "0", _migrateTimeout, "REPLACE", "AUTH2", RedisConfig.ClusterUser, _secret, "KEYS"]
                        : ["MIGRATE", _move.TargetAddress, Port, string.Empty, "0", _migrateTimeout, "AUTH2", RedisConfig.ClusterUser, _secret, "KEYS"];
                    batch.Add(head, slotKeys);
                }

                var replies = await PipelineAsync(_source, batch, _options.CommandTimeout + _options.MigrateTimeout, "this node", cancellationToken);
                var progressed = false;
                for (var i = 0; i < replies.Length; i++)
                {
                    var (slot, slotKeys) = withKeys[i];
                    var reply = replies[i];
                    if (reply.Kind != RespKind.Error)
                    {
                        // OK, or NOKEY when every key of the batch expired meanwhile.
                        progressed |= reply.Text == "OK";
                        _keysMoved += reply.Text == "OK" ? slotKeys.Length : 0;
                    }
                    else if (reply.Text?.Contains("BUSYKEY", StringComparison.Ordinal) == true && replace.Add(slot))
                    {
                        // The target has some of these keys already (left by an interrupted move, or written there
                        // by a client with ASKING while this node still held them). This node's copy is the one
                        // clients have been writing, so it replaces the target's.
                        _logger.SlotMoveReplacing(slot, _instanceId);
                        progressed = true;
                    }
                    else
                    {
                        throw new InvalidOperationException($"MIGRATE of slot {slot} to {_targetEndPoint} failed: {reply.Text}");
                    }
                }

                stalled = progressed ? 0 : stalled + 1;
                if (stalled > MaxStalledPasses)
                {
                    throw new InvalidOperationException(
                        $"the keys of slot(s) {string.Join(',', withKeys.Select(s => s.Slot))} do not move to {_targetEndPoint}: MIGRATE keeps finding none of them");
                }

                pending = [.. withKeys.Select(s => s.Slot)];
            }
        }
    }

    private async Task<byte[][][]> GetKeysAsync(RespCommandBatch batch, int count, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            deadline.CancelAfter(_options.CommandTimeout);
            await _source.WriteAsync(batch, deadline.Token);
            var keys = new byte[count][][];
            for (var i = 0; i < count; i++)
            {
                deadline.CancelAfter(_options.CommandTimeout);
                keys[i] = await _source.ReadBinaryArrayAsync(deadline.Token);
            }

            return keys;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"this node did not list the keys of its slots within {_options.CommandTimeout.TotalSeconds:F0} s");
        }
        finally
        {
            batch.Clear();
        }
    }

    /// <summary>Best effort: a master that cannot be told learns the new owner by gossip a little later.</summary>
    private async Task TellMastersAsync(SlotPlan[] round, CancellationToken cancellationToken)
    {
        if (!_mastersListed)
        {
            _mastersListed = true;
            foreach (var master in _move.Masters.DistinctBy(m => (m.Address, m.Port)))
            {
                var isSourceOrTarget = master.NodeId == _sourceId || master.NodeId == _move.TargetNodeId
                    || (master.Address == _move.TargetAddress && master.Port == _move.TargetPort);
                if (!isSourceOrTarget)
                {
                    _masters.Add(new MasterLink(master));
                }
            }
        }

        await Task.WhenAll(_masters.Where(m => !m.Failed).Select(m => TellMasterAsync(m, round, cancellationToken)));
    }

    private async Task TellMasterAsync(MasterLink master, SlotPlan[] round, CancellationToken cancellationToken)
    {
        try
        {
            if (!IPAddress.TryParse(master.Node.Address, out var address))
            {
                throw new ArgumentException($"'{master.Node.Address}' is not an IP address");
            }

            master.Connection ??= await ConnectAsync(new IPEndPoint(address, master.Node.Port), cancellationToken);
            var batch = new RespCommandBatch();
            foreach (var plan in round)
            {
                batch.Add(["CLUSTER", "SETSLOT", Slot(plan), "NODE", _move.TargetNodeId]);
            }

            await ExpectOkAsync(master.Connection, batch, $"master {master.Node.Address}:{master.Node.Port}", cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OperationCanceledException)
        {
            _logger.SlotMoveMasterNotTold(master.Node.Address, master.Node.Port, round.Length, _instanceId, e);
            master.Failed = true;
        }
    }

    /// <summary>Connects to another member as the cluster user.</summary>
    private async Task<RespConnection> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.CommandTimeout);
        RespConnection? connection = null;
        try
        {
            connection = await RespConnection.ConnectAsync(endPoint, deadline.Token);
            await connection.AuthAsync(RedisConfig.ClusterUser, _secret, deadline.Token);
            return connection;
        }
        catch (Exception e)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            throw e switch
            {
                OperationCanceledException when !cancellationToken.IsCancellationRequested =>
                    new TimeoutException($"{endPoint} did not answer within {_options.CommandTimeout.TotalSeconds:F0} s"),
                SocketException => new InvalidOperationException($"cluster member {endPoint} is not reachable: {e.Message}", e),
                RedisErrorException { Code: "WRONGPASS" } => new InvalidOperationException($"cluster member {endPoint} refused the cluster user: it is not a member of this cluster", e),
                _ => e,
            };
        }
    }

    private async Task<ClusterView> ReadViewAsync(RespConnection connection, string who, CancellationToken cancellationToken)
    {
        var replies = await PipelineAsync(connection, new RespCommandBatch().Add(["CLUSTER", "NODES"]), _options.CommandTimeout, who, cancellationToken);
        return replies[0].Kind == RespKind.Error
            ? throw new RedisErrorException(replies[0].Text ?? "ERR")
            : ClusterNodesParser.Parse(replies[0].Text ?? string.Empty);
    }

    private async Task ExpectOkAsync(RespConnection connection, RespCommandBatch batch, string who, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var replies = await PipelineAsync(connection, batch, _options.CommandTimeout, who, cancellationToken);
        if (replies.FirstOrDefault(r => r.Kind == RespKind.Error) is { } error)
        {
            throw new InvalidOperationException($"{who} refused a slot change: {error.Text}");
        }
    }

    /// <summary>Sends a batch and reads its replies, each within <paramref name="perReply"/>; the batch is emptied for reuse.</summary>
    private static async Task<RespReply[]> PipelineAsync(RespConnection connection, RespCommandBatch batch, TimeSpan perReply, string who, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            deadline.CancelAfter(perReply);
            await connection.WriteAsync(batch, deadline.Token);
            var replies = new RespReply[batch.Count];
            for (var i = 0; i < replies.Length; i++)
            {
                deadline.CancelAfter(perReply);
                replies[i] = await connection.ReadReplyAsync(deadline.Token);
            }

            return replies;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{who} did not answer within {perReply.TotalSeconds:F0} s");
        }
        finally
        {
            // MIGRATE commands carry the cluster secret.
            batch.Clear();
        }
    }

    private string Port => _move.TargetPort.ToString(CultureInfo.InvariantCulture);

    private static string Slot(SlotPlan plan) => plan.Slot.ToString(CultureInfo.InvariantCulture);

    /// <param name="TargetOwns">The target owns the slot in its own view: only closing is left to do.</param>
    /// <param name="TargetOpen">The target has the slot importing or migrating.</param>
    /// <param name="SourceOwns">This node owns the slot in its view (it migrates it).</param>
    /// <param name="SourceSettled">This node already sees the target as the owner, with nothing open.</param>
    private readonly record struct SlotPlan(int Slot, bool TargetOwns, bool TargetOpen, bool SourceOwns, bool SourceSettled);

    private sealed class MasterLink(ClusterNodeInfo node)
    {
        public ClusterNodeInfo Node { get; } = node;

        public RespConnection? Connection { get; set; }

        public bool Failed { get; set; }
    }
}
