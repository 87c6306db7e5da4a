using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Hoard.Abstractions.Tracing;

namespace Hoard.Datastores.Redis.Resp;

/// <summary>
/// A short-lived RESP2 connection: connect, send a command (or a pipelined <see cref="RespCommandBatch"/>),
/// read the replies, close.
/// </summary>
/// <remarks>
/// Why not StackExchange.Redis: one guest agent runs up to hundreds of instances and talks to each
/// only now and then (start, stop, probes, root changes). A multiplexer per instance would keep a
/// socket, buffers, timers and reconnect machinery alive for each of them; this client holds
/// nothing between calls, so an idle instance costs the agent no memory and no thread.
/// </remarks>
internal sealed class RespConnection : IAsyncDisposable
{
    // Replies the agent reads are short (status, small integers, error lines); anything larger
    // than this is a foreign or broken peer, not Redis answering us.
    private const int MaxBulkLength = 16 * 1024 * 1024;
    private const int MaxArrayLength = 1024 * 1024;
    private const int MaxLineLength = 64 * 1024;

    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[4096];
    private int _start;
    private int _end;

    private RespConnection(Socket socket) => _socket = socket;

    /// <summary>Connects; the token bounds the attempt (callers pass one with a short deadline).</summary>
    public static async Task<RespConnection> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            return new RespConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>AUTH with an ACL user; throws <see cref="RedisErrorException"/> (WRONGPASS) when refused.</summary>
    public Task AuthAsync(string user, string password, CancellationToken cancellationToken) =>
        ExecuteAsync(["AUTH", user, password], cancellationToken);

    /// <summary>Sends a command and returns its reply; an error reply becomes <see cref="RedisErrorException"/>.</summary>
    public async Task<RespReply> ExecuteAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(arguments, cancellationToken);
        return reply.Kind == RespKind.Error ? throw new RedisErrorException(reply.Text ?? "ERR") : reply;
    }

    /// <summary>Sends a command and returns its reply as it is, errors included.</summary>
    public async Task<RespReply> SendAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        using var activity = HoardTracing.Source.StartActivity(HoardTracing.Names.DatastoreCommand);
        activity?.SetTag("datastore", "redis");
        activity?.SetTag("command", CommandName(arguments));
        try
        {
            await WriteCommandAsync(arguments, cancellationToken);
            var reply = await ReadReplyAsync(cancellationToken);
            if (reply.Kind == RespKind.Error)
            {
                activity?.SetTag(HoardTracing.ErrorTypeTag, "RedisError");
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, reply.Text);
            }

            return reply;
        }
        catch (Exception e)
        {
            activity.RecordError(e);
            throw;
        }
    }

    /// <summary>
    /// What a trace point may say about a command: its name, and the subcommand of a container command; never an
    /// argument, which can be a password (AUTH, ACL SETUSER).
    /// </summary>
    private static string CommandName(IReadOnlyList<string> arguments) =>
        arguments.Count switch
        {
            0 => string.Empty,
            > 1 when arguments[0].ToUpperInvariant() is "ACL" or "CONFIG" or "CLUSTER" or "CLIENT" or "INFO" =>
                $"{arguments[0].ToUpperInvariant()} {arguments[1].ToUpperInvariant()}",
            _ => arguments[0].ToUpperInvariant(),
        };

    /// <summary>Sends a command without waiting for a reply (SHUTDOWN answers by closing).</summary>
    public async Task WriteCommandAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var batch = new RespCommandBatch(256).Add(arguments);
        try
        {
            await WriteAsync(batch, cancellationToken);
        }
        finally
        {
            // The command held secrets (AUTH); do not leave them in a buffer longer than needed.
            batch.Clear();
        }
    }

    /// <summary>Sends every command of the batch in one write, without waiting for replies.</summary>
    public async Task WriteAsync(RespCommandBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var pending = batch.Encoded;
        while (!pending.IsEmpty)
        {
            var sent = await _socket.SendAsync(pending, SocketFlags.None, cancellationToken);
            pending = pending[sent..];
        }
    }

    /// <summary>Sends the batch and reads one reply per command, error replies included (they answer only their own command).</summary>
    public async Task<RespReply[]> PipelineAsync(RespCommandBatch batch, CancellationToken cancellationToken)
    {
        using var activity = HoardTracing.Source.StartActivity(HoardTracing.Names.DatastoreCommand);
        activity?.SetTag("datastore", "redis");
        activity?.SetTag("command", "PIPELINE");
        activity?.SetTag("commands", batch.Count);
        await WriteAsync(batch, cancellationToken);
        var replies = new RespReply[batch.Count];
        for (var i = 0; i < replies.Length; i++)
        {
            replies[i] = await ReadReplyAsync(cancellationToken);
        }

        return replies;
    }

    /// <summary>
    /// Reads an array of bulk strings as raw bytes (CLUSTER GETKEYSINSLOT's key names, which need not be UTF-8);
    /// an error reply becomes <see cref="RedisErrorException"/>.
    /// </summary>
    public async Task<byte[][]> ReadBinaryArrayAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        if (line.Length > 0 && line[0] == '-')
        {
            throw new RedisErrorException(line[1..]);
        }

        if (line.Length == 0 || line[0] != '*')
        {
            throw new RespProtocolException($"expected an array, got '{line}'");
        }

        var count = ParseLength(line[1..], 0, MaxArrayLength);
        var items = new byte[count][];
        var terminator = new byte[2];
        for (var i = 0; i < items.Length; i++)
        {
            var header = await ReadLineAsync(cancellationToken);
            if (header.Length == 0 || header[0] != '$')
            {
                throw new RespProtocolException($"expected a bulk string, got '{header}'");
            }

            items[i] = new byte[ParseLength(header[1..], 0, MaxBulkLength)];
            await ReadExactlyAsync(items[i], cancellationToken);
            await ReadExactlyAsync(terminator, cancellationToken);
            if (terminator[0] != '\r' || terminator[1] != '\n')
            {
                throw new RespProtocolException("bulk string not terminated by CRLF");
            }
        }

        return items;
    }

    /// <summary>Reads one reply; throws <see cref="IOException"/> when the server closes the connection.</summary>
    public async Task<RespReply> ReadReplyAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        if (line.Length == 0)
        {
            throw new RespProtocolException("empty reply line");
        }

        var body = line[1..];
        switch (line[0])
        {
            case '+':
                return new RespReply(RespKind.SimpleString, body);
            case '-':
                return new RespReply(RespKind.Error, body);
            case ':':
                return new RespReply(RespKind.Integer, Integer: ParseLength(body, long.MinValue, long.MaxValue));
            case '$':
            {
                var length = ParseLength(body, -1, MaxBulkLength);
                if (length < 0)
                {
                    return RespReply.Null;
                }

                var bytes = new byte[length + 2];
                await ReadExactlyAsync(bytes, cancellationToken);
                if (bytes[^2] != '\r' || bytes[^1] != '\n')
                {
                    throw new RespProtocolException("bulk string not terminated by CRLF");
                }

                return new RespReply(RespKind.BulkString, Encoding.UTF8.GetString(bytes, 0, (int)length));
            }

            case '*':
            {
                var count = ParseLength(body, -1, MaxArrayLength);
                if (count < 0)
                {
                    return RespReply.Null;
                }

                var items = new RespReply[count];
                for (var i = 0; i < items.Length; i++)
                {
                    items[i] = await ReadReplyAsync(cancellationToken);
                }

                return new RespReply(RespKind.Array, Items: items);
            }

            default:
                throw new RespProtocolException($"unexpected reply type byte 0x{(int)line[0]:x2}");
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private static long ParseLength(string text, long min, long max) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new RespProtocolException($"bad length or integer '{text}'");

    private async ValueTask<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        // RESP lines never contain CR or LF, so the line ends at the first LF.
        ArrayBufferWriter<byte>? spill = null;
        while (true)
        {
            ReadOnlySpan<byte> available = _buffer.AsSpan(_start, _end - _start);
            var newline = available.IndexOf((byte)'\n');
            if (newline >= 0)
            {
                var part = available[..newline];
                _start += newline + 1;
                if (spill is not null)
                {
                    spill.Write(part);
                    part = spill.WrittenSpan;
                }

                if (part.IsEmpty || part[^1] != '\r')
                {
                    throw new RespProtocolException("reply line not terminated by CRLF");
                }

                return Encoding.UTF8.GetString(part[..^1]);
            }

            spill ??= new ArrayBufferWriter<byte>(256);
            spill.Write(available);
            _start = _end;
            if (spill.WrittenCount > MaxLineLength)
            {
                throw new RespProtocolException("reply line too long");
            }

            await FillAsync(cancellationToken);
        }
    }

    private async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var buffered = Math.Min(_end - _start, destination.Length);
        _buffer.AsMemory(_start, buffered).CopyTo(destination);
        _start += buffered;
        destination = destination[buffered..];
        while (!destination.IsEmpty)
        {
            var read = await _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new IOException("the server closed the connection");
            }

            destination = destination[read..];
        }
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        _start = 0;
        _end = 0;
        var read = await _socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None, cancellationToken);
        if (read == 0)
        {
            throw new IOException("the server closed the connection");
        }

        _end = read;
    }
}
