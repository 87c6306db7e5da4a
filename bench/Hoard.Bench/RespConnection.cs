using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Hoard.Bench;

/// <summary>An error reply from Redis (-ERR ..., -MOVED ...).</summary>
internal sealed class RespErrorException(string message) : Exception(message);

/// <summary>
/// A minimal RESP2 connection to one Redis node, for the cluster bench: commands one at a time, and a pipelined
/// bulk SET that writes and reads at once so neither side's buffers stall. Deliberately cluster-unaware: the bench
/// sends each key to the node that owns its slot.
/// </summary>
internal sealed class RespConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RespConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _tcp.NoDelay = true;
        _stream = tcp.GetStream();
    }

    public static async Task<RespConnection> ConnectAsync(string host, int port, string? user, string? password, CancellationToken cancellationToken)
    {
        var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        var connection = new RespConnection(tcp);
        if (password is not null)
        {
            try
            {
                await connection.CommandAsync(cancellationToken, user is null ? ["AUTH", password] : ["AUTH", user, password]);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }
        }

        return connection;
    }

    /// <summary>Sends one command and returns its reply: string, long, null, or object?[] for arrays.</summary>
    public async Task<object?> CommandAsync(CancellationToken cancellationToken, params string[] args)
    {
        var writer = new ArrayBufferWriter<byte>();
        Encode(writer, args);
        await _stream.WriteAsync(writer.WrittenMemory, cancellationToken);
        return await ReadReplyAsync(cancellationToken);
    }

    public async Task<string> CommandTextAsync(CancellationToken cancellationToken, params string[] args) =>
        (await CommandAsync(cancellationToken, args)) as string ?? string.Empty;

    public async Task<long> CommandLongAsync(CancellationToken cancellationToken, params string[] args) =>
        (await CommandAsync(cancellationToken, args)) is long n ? n : throw new RespErrorException($"{args[0]} did not answer an integer");

    /// <summary>SETs every pair, pipelined in batches; returns once every reply is read. Throws on the first error reply.</summary>
    public async Task SetManyAsync(IReadOnlyList<(string Key, string Value)> pairs, CancellationToken cancellationToken)
    {
        var replies = ReadSimpleRepliesAsync(pairs.Count, cancellationToken);
        var writer = new ArrayBufferWriter<byte>(256 * 1024);
        for (var i = 0; i < pairs.Count; i++)
        {
            Encode(writer, ["SET", pairs[i].Key, pairs[i].Value]);
            if (writer.WrittenCount >= 128 * 1024 || i == pairs.Count - 1)
            {
                if (replies.IsCompleted)
                {
                    break;
                }

                await _stream.WriteAsync(writer.WrittenMemory, cancellationToken);
                writer.ResetWrittenCount();
            }
        }

        await replies;
    }

    private async Task ReadSimpleRepliesAsync(int count, CancellationToken cancellationToken)
    {
        for (var i = 0; i < count; i++)
        {
            var line = await ReadLineAsync(cancellationToken);
            if (line.StartsWith('-'))
            {
                throw new RespErrorException(line[1..]);
            }
        }
    }

    private async Task<object?> ReadReplyAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        var rest = line[1..];
        switch (line[0])
        {
            case '+':
                return rest;
            case '-':
                throw new RespErrorException(rest);
            case ':':
                return long.Parse(rest, CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(rest, CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                var bytes = await ReadExactAsync(length + 2, cancellationToken);
                return Encoding.UTF8.GetString(bytes, 0, length);
            case '*':
                var count = int.Parse(rest, CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    try
                    {
                        items[i] = await ReadReplyAsync(cancellationToken);
                    }
                    catch (RespErrorException e)
                    {
                        items[i] = e;
                    }
                }

                return items;
            default:
                throw new InvalidDataException($"unexpected RESP reply '{line}'");
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var at = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (at > _start && _buffer[at - 1] == '\r')
            {
                var line = Encoding.UTF8.GetString(_buffer, _start, at - 1 - _start);
                _start = at + 1;
                return line;
            }

            await FillAsync(cancellationToken);
        }
    }

    private async Task<byte[]> ReadExactAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken);
            }

            var n = Math.Min(count - copied, _end - _start);
            Array.Copy(_buffer, _start, result, copied, n);
            _start += n;
            copied += n;
        }

        return result;
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidDataException("RESP line longer than the read buffer");
        }

        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            throw new IOException("the server closed the connection");
        }

        _end += read;
    }

    private static void Encode(ArrayBufferWriter<byte> writer, string[] args)
    {
        Write(writer, $"*{args.Length}\r\n");
        foreach (var arg in args)
        {
            Write(writer, $"${Encoding.UTF8.GetByteCount(arg)}\r\n");
            Write(writer, arg);
            Write(writer, "\r\n");
        }
    }

    private static void Write(ArrayBufferWriter<byte> writer, string text)
    {
        var span = writer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        writer.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
