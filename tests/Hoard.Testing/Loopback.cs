using System.Net;
using System.Net.Sockets;

namespace Hoard.Testing;

/// <summary>Loopback addresses for test servers: each on an address of its own, so engines keep their default ports.</summary>
public static class Loopback
{
    /// <summary>
    /// A <paramref name="prefix"/>.x.y address (prefix like "127.77") with nothing listening on <paramref name="port"/>;
    /// y stays at or below <paramref name="highestLastOctet"/>, so a test can use a neighbour above it.
    /// </summary>
    public static async Task<string> FreeAddressAsync(string prefix, int port, int highestLastOctet = 254)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var address = $"{prefix}.{Random.Shared.Next(0, 256)}.{Random.Shared.Next(1, highestLastOctet + 1)}";
            if (!await IsListeningAsync(address, port))
            {
                return address;
            }
        }

        throw new InvalidOperationException($"found no free {prefix}.x.y address for port {port}");
    }

    /// <summary>Whether something accepts TCP connections on the address and port.</summary>
    public static async Task<bool> IsListeningAsync(string address, int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Parse(address), port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }
}
