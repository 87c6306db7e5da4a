using System.Globalization;
using System.Text;

namespace Hoard.Bench;

/// <summary>Redis Cluster's key -> slot function (CRC16/XMODEM of the key or its {hash tag}, mod 16384).</summary>
internal static class HashSlots
{
    public const int Count = 16384;

    private static readonly ushort[] Table = BuildTable();

    public static int Of(string key)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        var span = bytes.AsSpan();
        var open = span.IndexOf((byte)'{');
        if (open >= 0)
        {
            var close = span[(open + 1)..].IndexOf((byte)'}');
            if (close > 0)
            {
                span = span.Slice(open + 1, close);
            }
        }

        ushort crc = 0;
        foreach (var b in span)
        {
            crc = (ushort)((crc << 8) ^ Table[((crc >> 8) ^ b) & 0xff]);
        }

        return crc & (Count - 1);
    }

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (var i = 0; i < 256; i++)
        {
            var crc = (ushort)(i << 8);
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }

            table[i] = crc;
        }

        return table;
    }
}

/// <summary>One line of CLUSTER NODES: a node, its role and the slots it owns.</summary>
internal sealed record ClusterNodeLine(string Id, string Address, int Port, bool IsMaster, bool IsMyself, bool Failed, bool Connected, IReadOnlyList<(int First, int Last)> Slots)
{
    public int SlotCount => Slots.Sum(s => s.Last - s.First + 1);

    public static IReadOnlyList<ClusterNodeLine> Parse(string clusterNodes)
    {
        var nodes = new List<ClusterNodeLine>();
        foreach (var line in clusterNodes.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(' ');
            var endpoint = f[1].Split('@')[0].Split(',')[0];
            var colon = endpoint.LastIndexOf(':');
            var flags = f[2].Split(',');
            var slots = new List<(int, int)>();
            foreach (var s in f.Skip(8).Where(s => !s.StartsWith('[')))
            {
                var dash = s.IndexOf('-', StringComparison.Ordinal);
                slots.Add(dash < 0
                    ? (int.Parse(s, CultureInfo.InvariantCulture), int.Parse(s, CultureInfo.InvariantCulture))
                    : (int.Parse(s[..dash], CultureInfo.InvariantCulture), int.Parse(s[(dash + 1)..], CultureInfo.InvariantCulture)));
            }

            nodes.Add(new ClusterNodeLine(
                f[0],
                endpoint[..colon],
                int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture),
                flags.Contains("master"),
                flags.Contains("myself"),
                flags.Contains("fail") || flags.Contains("fail?") || flags.Contains("handshake") || flags.Contains("noaddr"),
                f[7] == "connected",
                slots));
        }

        return nodes;
    }
}
