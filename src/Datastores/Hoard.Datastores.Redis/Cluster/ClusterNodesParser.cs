using System.Globalization;
using Hoard.Abstractions.Clusters;

namespace Hoard.Datastores.Redis.Cluster;

/// <summary>A slot this node has open: importing it from a peer, or migrating it to one.</summary>
internal readonly record struct OpenSlot(int Slot, bool Importing, string PeerId)
{
    public override string ToString() => Importing ? $"[{Slot}-<-{PeerId}]" : $"[{Slot}->-{PeerId}]";
}

/// <summary>CLUSTER NODES as one node sees it: the nodes, and the slots it has open with their peers.</summary>
internal sealed class ClusterView
{
    private readonly string?[] _owners = new string?[ClusterNodesParser.SlotCount];

    public ClusterView(IReadOnlyList<ClusterNode> nodes, IReadOnlyList<OpenSlot> openSlots)
    {
        Nodes = nodes;
        OpenSlots = openSlots;
        Myself = nodes.SingleOrDefault(n => n.Myself) ?? throw new FormatException("CLUSTER NODES has no line flagged myself");
        foreach (var node in nodes)
        {
            foreach (var range in node.Slots)
            {
                for (var slot = range.First; slot <= range.Last; slot++)
                {
                    _owners[slot] = node.NodeId;
                }
            }
        }
    }

    public IReadOnlyList<ClusterNode> Nodes { get; }

    public ClusterNode Myself { get; }

    /// <summary>Open slots of <see cref="Myself"/> (CLUSTER NODES shows them on the myself line only).</summary>
    public IReadOnlyList<OpenSlot> OpenSlots { get; }

    /// <summary>The node id that owns <paramref name="slot"/> in this view, or null when nobody does.</summary>
    public string? OwnerOf(int slot) => _owners[slot];

    public ClusterNode? Find(string nodeId) => Nodes.FirstOrDefault(n => n.NodeId == nodeId);

    public OpenSlot? OpenSlotOf(int slot) => OpenSlots.Select(o => (OpenSlot?)o).FirstOrDefault(o => o!.Value.Slot == slot);
}

/// <summary>
/// Reads CLUSTER NODES and CLUSTER INFO. A CLUSTER NODES line is
/// <c>id ip:port@cport[,hostname] flags master ping-sent pong-recv config-epoch link-state slot…</c>, where a slot
/// is <c>n</c>, <c>a-b</c>, <c>[n-&gt;-id]</c> (migrating to id) or <c>[n-&lt;-id]</c> (importing from id).
/// </summary>
internal static class ClusterNodesParser
{
    public const int SlotCount = HashSlots.Count;

    public static ClusterView Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var nodes = new List<ClusterNode>();
        var open = new List<OpenSlot>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var node = ParseLine(line, out var lineOpen);
            nodes.Add(node);
            if (node.Myself)
            {
                open.AddRange(lineOpen);
            }
        }

        return new ClusterView(nodes, open);
    }

    public static ClusterNode ParseLine(string line, out IReadOnlyList<OpenSlot> openSlots)
    {
        ArgumentNullException.ThrowIfNull(line);
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 8)
        {
            throw new FormatException($"CLUSTER NODES line has {fields.Length} fields, expected at least 8: '{line}'");
        }

        var (address, port) = ParseAddress(fields[1]);
        var flags = fields[2].Split(',');
        var slots = new List<SlotRange>();
        var importing = new List<int>();
        var migrating = new List<int>();
        var open = new List<OpenSlot>();
        foreach (var field in fields.AsSpan(8))
        {
            if (field.StartsWith('['))
            {
                var slot = ParseOpenSlot(field);
                open.Add(slot);
                (slot.Importing ? importing : migrating).Add(slot.Slot);
            }
            else
            {
                var dash = field.IndexOf('-', StringComparison.Ordinal);
                slots.Add(dash < 0
                    ? new SlotRange(ParseSlot(field), ParseSlot(field))
                    : new SlotRange(ParseSlot(field[..dash]), ParseSlot(field[(dash + 1)..])));
            }
        }

        openSlots = open;
        return new ClusterNode
        {
            NodeId = fields[0],
            Address = address,
            Port = port,
            IsMaster = flags.Contains("master"),
            MasterId = fields[3] == "-" ? null : fields[3],
            Myself = flags.Contains("myself"),
            Failing = flags.Contains("fail") || flags.Contains("fail?") || flags.Contains("handshake"),
            Connected = fields[7] == "connected" && !flags.Contains("noaddr"),
            ConfigEpoch = long.Parse(fields[6], NumberStyles.None, CultureInfo.InvariantCulture),
            Slots = slots,
            Importing = importing,
            Migrating = migrating,
        };
    }

    /// <summary>CLUSTER INFO's cluster_state and cluster_slots_assigned.</summary>
    public static (string State, int SlotsAssigned) ParseInfo(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string? state = null;
        int? assigned = null;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            var value = line[(colon + 1)..];
            switch (line[..colon])
            {
                case "cluster_state":
                    state = value;
                    break;
                case "cluster_slots_assigned":
                    assigned = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
            }
        }

        return (state ?? throw new FormatException("CLUSTER INFO has no cluster_state"), assigned ?? throw new FormatException("CLUSTER INFO has no cluster_slots_assigned"));
    }

    /// <summary>The ranges of <paramref name="slots"/>, which must be sorted and distinct.</summary>
    public static IReadOnlyList<SlotRange> ToRanges(IEnumerable<int> slots) => HashSlots.Compress(slots);

    // ip:port@cport, ip:port@cport,hostname, or :port@cport while the node does not know its own address.
    // IPv6 addresses are printed without brackets, so the port follows the last colon.
    private static (string Address, int Port) ParseAddress(string field)
    {
        var end = field.IndexOfAny(['@', ',']);
        var hostPort = end < 0 ? field : field[..end];
        var colon = hostPort.LastIndexOf(':');
        if (colon < 0)
        {
            throw new FormatException($"CLUSTER NODES address '{field}' has no port");
        }

        return (hostPort[..colon], int.Parse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture));
    }

    private static OpenSlot ParseOpenSlot(string field)
    {
        if (!field.EndsWith(']'))
        {
            throw new FormatException($"CLUSTER NODES open slot '{field}' is not closed");
        }

        var body = field[1..^1];
        var migrating = body.IndexOf("->-", StringComparison.Ordinal);
        var importing = body.IndexOf("-<-", StringComparison.Ordinal);
        var at = migrating >= 0 ? migrating : importing;
        if (at <= 0)
        {
            throw new FormatException($"CLUSTER NODES open slot '{field}' is neither importing nor migrating");
        }

        return new OpenSlot(ParseSlot(body[..at]), Importing: migrating < 0, PeerId: body[(at + 3)..]);
    }

    private static int ParseSlot(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var slot) && slot < SlotCount
            ? slot
            : throw new FormatException($"'{text}' is not a hash slot");
}
