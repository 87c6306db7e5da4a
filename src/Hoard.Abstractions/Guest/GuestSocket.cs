using System.Net.WebSockets;
using System.Text.Json;

namespace Hoard.Abstractions.Guest;

/// <summary>Reads and writes guest RPC frames: one JSON <see cref="GuestMessage"/> per WebSocket text message.</summary>
public static class GuestSocket
{
    /// <summary>Largest frame either side accepts.</summary>
    public const int MaxFrameBytes = 4 * 1024 * 1024;

    /// <summary>Reads the next frame; null when the peer closed the socket.</summary>
    public static async Task<GuestMessage?> ReceiveAsync(WebSocket socket, MemoryStream buffer, byte[] chunk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(buffer);
        buffer.SetLength(0);
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(chunk, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            buffer.Write(chunk, 0, result.Count);
            if (buffer.Length > MaxFrameBytes)
            {
                throw new WebSocketException($"guest frame larger than {MaxFrameBytes} bytes");
            }
        }
        while (!result.EndOfMessage);

        return JsonSerializer.Deserialize<GuestMessage>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length))
            ?? throw new JsonException("empty guest frame");
    }

    /// <summary>Sends a frame; <paramref name="sendLock"/> keeps concurrent senders from interleaving (one send at a time per socket).</summary>
    public static async Task SendAsync(WebSocket socket, SemaphoreSlim sendLock, GuestMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(sendLock);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(message);
        await sendLock.WaitAsync(cancellationToken);
        try
        {
            await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
        }
        finally
        {
            sendLock.Release();
        }
    }
}
