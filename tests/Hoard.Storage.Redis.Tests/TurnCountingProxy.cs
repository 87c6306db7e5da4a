using System.Net;
using System.Net.Sockets;

namespace Hoard.Storage.Redis.Tests;

/// <summary>
/// A TCP relay between a client and redis-server that counts round trips: a "turn" starts each time the client
/// sends after having received a reply, so a pipelined batch is one turn and N awaited commands are N.
/// </summary>
internal sealed class TurnCountingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _clients = [];
    private readonly Task _accepting;
    private readonly Lock _turnLock = new();
    private int _turns;

    public TurnCountingProxy(string host, int port)
    {
        _upstream = new IPEndPoint(IPAddress.Parse(host), port);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Turns => Volatile.Read(ref _turns);

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var server = new TcpClient();
                await server.ConnectAsync(_upstream, _stop.Token);
                lock (_clients)
                {
                    _clients.Add(client);
                    _clients.Add(server);
                }

                // Per connection: whether a reply came since the client last sent.
                var replied = new StrongBox(true);
                _ = PumpAsync(client.GetStream(), server.GetStream(), () =>
                {
                    if (replied.Value)
                    {
                        replied.Value = false;
                        Interlocked.Increment(ref _turns);
                    }
                });
                _ = PumpAsync(server.GetStream(), client.GetStream(), () => replied.Value = true);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, Action onData)
    {
        var buffer = new byte[1 << 16];
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                lock (_turnLock)
                {
                    onData();
                }

                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_clients)
        {
            foreach (var c in _clients)
            {
                c.Dispose();
            }
        }

        await _accepting;
        _stop.Dispose();
    }

    private sealed class StrongBox(bool value)
    {
        public bool Value { get; set; } = value;
    }
}
