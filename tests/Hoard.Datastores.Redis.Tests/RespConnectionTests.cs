using System.Net;
using System.Net.Sockets;
using System.Text;
using Hoard.Datastores.Redis.Resp;
using Hoard.Datastores.Redis.Tests.Support;

namespace Hoard.Datastores.Redis.Tests;

/// <summary>The hand-written RESP2 client against a canned peer that dribbles its replies one byte at a time.</summary>
public sealed class RespConnectionTests
{
    [Fact]
    public async Task ReadsEveryReplyKindEvenWhenItArrivesInPieces()
    {
        const string Replies = "+OK\r\n-ERR unknown command\r\n:-42\r\n$4\r\nhé!\r\n$-1\r\n*3\r\n$1\r\na\r\n:7\r\n*-1\r\n*0\r\n";
        using var cancellation = new CancellationTokenSource(TestTimeouts.Default);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = DribbleAsync(listener, Encoding.UTF8.GetBytes(Replies), cancellation.Token);

        await using var connection = await RespConnection.ConnectAsync((IPEndPoint)listener.LocalEndpoint, cancellation.Token).DefaultTimeout();
        var ok = await connection.SendAsync(["PING"], cancellation.Token).DefaultTimeout();
        var error = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var integer = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var bulk = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var nil = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var array = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var empty = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var sent = await peer.DefaultTimeout();

        Assert.Equal("*1\r\n$4\r\nPING\r\n", sent);
        Assert.Equal(new RespReply(RespKind.SimpleString, "OK"), ok);
        Assert.Equal(new RespReply(RespKind.Error, "ERR unknown command"), error);
        Assert.Equal(-42, integer.Integer);
        Assert.Equal("hé!", bulk.Text);
        Assert.Equal(RespKind.Null, nil.Kind);
        Assert.Equal(RespKind.Array, array.Kind);
        Assert.Equal(["a", "7", "(nil)"], array.Items!.Select(item => item.ToString()));
        Assert.Empty(empty.Items!);
    }

    [Fact]
    public async Task AnErrorReplyBecomesAnExceptionWithTheRedisMessage()
    {
        using var cancellation = new CancellationTokenSource(TestTimeouts.Default);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = DribbleAsync(listener, "-WRONGPASS invalid username-password pair\r\n"u8.ToArray(), cancellation.Token);

        await using var connection = await RespConnection.ConnectAsync((IPEndPoint)listener.LocalEndpoint, cancellation.Token).DefaultTimeout();
        var error = await Assert.ThrowsAsync<RedisErrorException>(() => connection.AuthAsync("someone", "s3cret", cancellation.Token)).DefaultTimeout();
        await peer.DefaultTimeout();

        Assert.Equal("WRONGPASS", error.Code);
        Assert.Equal("WRONGPASS invalid username-password pair", error.Message);
    }

    [Fact]
    public async Task AClosedConnectionIsAnIOException()
    {
        using var cancellation = new CancellationTokenSource(TestTimeouts.Default);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = DribbleAsync(listener, "+PAR"u8.ToArray(), cancellation.Token);

        await using var connection = await RespConnection.ConnectAsync((IPEndPoint)listener.LocalEndpoint, cancellation.Token).DefaultTimeout();
        var reply = connection.SendAsync(["PING"], cancellation.Token);

        await Assert.ThrowsAnyAsync<IOException>(() => reply).DefaultTimeout();
        await peer.DefaultTimeout();
    }

    [Fact]
    public async Task ReadsKeyNamesByteForByteAmongPipelinedReplies()
    {
        // GETKEYSINSLOT's answer with a key that is not UTF-8, then MIGRATE's OK and an error answering one command only.
        byte[] replies = [.. "*2\r\n$3\r\n"u8, 0xff, 0x00, (byte)'k', .. "\r\n$0\r\n\r\n+OK\r\n-ERR no\r\n"u8];
        using var cancellation = new CancellationTokenSource(TestTimeouts.Default);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var peer = DribbleAsync(listener, replies, cancellation.Token);

        await using var connection = await RespConnection.ConnectAsync((IPEndPoint)listener.LocalEndpoint, cancellation.Token).DefaultTimeout();
        var batch = new RespCommandBatch().Add(["CLUSTER", "GETKEYSINSLOT", "7", "2"]).Add(["MIGRATE", "KEYS"], [[0xff, 0x00, (byte)'k']]).Add(["PING"]);
        await connection.WriteAsync(batch, cancellation.Token).DefaultTimeout();
        var keys = await connection.ReadBinaryArrayAsync(cancellation.Token).DefaultTimeout();
        var ok = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var error = await connection.ReadReplyAsync(cancellation.Token).DefaultTimeout();
        var sent = await peer.DefaultTimeout();

        Assert.Equal([[0xff, 0x00, (byte)'k'], []], keys);
        Assert.StartsWith("*4\r\n$7\r\nCLUSTER\r\n$13\r\nGETKEYSINSLOT\r\n$1\r\n7\r\n$1\r\n2\r\n*3\r\n$7\r\nMIGRATE\r\n", sent, StringComparison.Ordinal);
        Assert.Equal(new RespReply(RespKind.SimpleString, "OK"), ok);
        Assert.Equal(new RespReply(RespKind.Error, "ERR no"), error);
    }

    [Fact]
    public void ABatchEncodesStringAndRawArgumentsBackToBack()
    {
        var batch = new RespCommandBatch().Add(["PING"]).Add(["MIGRATE", "KEYS"], [[0xff, 0x00], [(byte)'é']]);

        byte[] expected = [.. "*1\r\n$4\r\nPING\r\n*4\r\n$7\r\nMIGRATE\r\n$4\r\nKEYS\r\n$2\r\n"u8, 0xff, 0x00, .. "\r\n$1\r\n"u8, (byte)'é', .. "\r\n"u8];
        Assert.Equal(expected, batch.Encoded.ToArray());
        Assert.Equal(2, batch.Count);

        batch.Clear();
        Assert.Equal(0, batch.Count);
        Assert.True(batch.Encoded.IsEmpty);
    }

    /// <summary>Accepts one client, reads its first command, answers byte by byte, and closes.</summary>
    private static async Task<string> DribbleAsync(TcpListener listener, byte[] replies, CancellationToken cancellationToken)
    {
        using var client = await listener.AcceptSocketAsync(cancellationToken);
        client.NoDelay = true;
        var buffer = new byte[1024];
        var received = await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        foreach (var b in replies)
        {
            await client.SendAsync(new[] { b }, SocketFlags.None, cancellationToken);
            await Task.Delay(TimeSpan.FromTicks(1), cancellationToken);
        }

        client.Shutdown(SocketShutdown.Send);
        return Encoding.UTF8.GetString(buffer, 0, received);
    }
}
