using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Hoard.Datastores.Redis;

/// <summary>An error reply from Redis (the server's message, never the command's arguments).</summary>
public sealed class RedisServerException(string message) : Exception(message);

/// <summary>
/// A minimal RESP2 client: connect, send commands, read replies, close. The guest keeps no connection
/// per instance (one agent runs hundreds of instances; a multiplexer each would cost threads and
/// memory for a handful of admin commands), so each operation opens one short-lived connection.
/// </summary>
internal sealed class RespClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly BufferedStream _reader;

    private RespClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new BufferedStream(_stream, 4096);
    }

    public static async Task<RespClient> ConnectAsync(string address, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(System.Net.IPAddress.Parse(address), port, cts.Token);
            return new RespClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects and authenticates as an ACL user.</summary>
    public static async Task<RespClient> ConnectAsync(string address, int port, string user, string password, CancellationToken cancellationToken)
    {
        var client = await ConnectAsync(address, port, TimeSpan.FromSeconds(5), cancellationToken);
        try
        {
            await client.CommandAsync(cancellationToken, "AUTH", user, password);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends one command and returns its reply: a string, a long, null, or an object[] for arrays.</summary>
    public async Task<object?> CommandAsync(CancellationToken cancellationToken, params string[] parts)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(parts.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        foreach (var part in parts)
        {
            sb.Append('$').Append(Encoding.UTF8.GetByteCount(part).ToString(CultureInfo.InvariantCulture)).Append("\r\n").Append(part).Append("\r\n");
        }

        await _stream.WriteAsync(Encoding.UTF8.GetBytes(sb.ToString()), cancellationToken);
        return await ReadReplyAsync(cancellationToken);
    }

    private async Task<object?> ReadReplyAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        if (line.Length == 0)
        {
            throw new IOException("empty reply from redis");
        }

        var rest = line[1..];
        switch (line[0])
        {
            case '+':
                return rest;
            case '-':
                throw new RedisServerException(rest);
            case ':':
                return long.Parse(rest, CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(rest, CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                var buffer = new byte[length + 2];
                await _reader.ReadExactlyAsync(buffer, cancellationToken);
                return Encoding.UTF8.GetString(buffer, 0, length);
            case '*':
                var count = int.Parse(rest, CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    items[i] = await ReadReplyAsync(cancellationToken);
                }

                return items;
            default:
                throw new IOException($"unexpected reply type '{line[0]}' from redis");
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        var bytes = new List<byte>(64);
        var one = new byte[1];
        while (true)
        {
            if (await _reader.ReadAsync(one, cancellationToken) == 0)
            {
                throw new IOException("redis closed the connection");
            }

            if (one[0] == '\n' && bytes.Count > 0 && bytes[^1] == '\r')
            {
                bytes.RemoveAt(bytes.Count - 1);
                return Encoding.UTF8.GetString([.. bytes]);
            }

            bytes.Add(one[0]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync();
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
