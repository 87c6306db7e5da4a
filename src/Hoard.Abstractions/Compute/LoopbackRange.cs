using System.Net;

namespace Hoard.Abstractions.Compute;

/// <summary>A range of loopback addresses, such as 127.42.0.0/16, handed out one per instance.</summary>
public sealed record LoopbackRange(uint First, uint Last)
{
    public static LoopbackRange Parse(string cidr)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out var ip) || !int.TryParse(cidr[(slash + 1)..], out var bits)
            || bits is < 8 or > 30 || ip.GetAddressBytes() is not [127, ..])
        {
            throw new ArgumentException($"address range '{cidr}' is not a loopback CIDR such as 127.42.0.0/16");
        }

        var b = ip.GetAddressBytes();
        var value = (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
        var mask = uint.MaxValue << (32 - bits);
        var network = value & mask;
        return new LoopbackRange(network + 1, (network | ~mask) - 1);
    }

    /// <summary>Addresses in order, skipping those whose last octet is 0 or 255.</summary>
    public IEnumerable<string> Addresses()
    {
        for (var v = First; v <= Last; v++)
        {
            if ((v & 0xff) is 0 or 255)
            {
                continue;
            }

            yield return $"{v >> 24}.{(v >> 16) & 0xff}.{(v >> 8) & 0xff}.{v & 0xff}";
        }
    }
}
