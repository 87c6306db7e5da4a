using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hoard.Abstractions.Guest;
using Hoard.Core.Configuration;
using Hoard.Core.Guests;
using Hoard.Core.Instances;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Guests;

/// <summary>
/// Where guest agents dial in: a WebSocket at /guest/v1, authenticated by the pool's agent key. Each
/// instance then proves itself with its own secret (a claim) before the hub routes its calls.
/// </summary>
public static class GuestEndpoint
{
    public static IEndpointRouteBuilder MapGuestEndpoint(this IEndpointRouteBuilder app)
    {
        app.Map("/guest/v1", async (HttpContext http, GuestHub hub, ComputePools pools, HoardOptions options) =>
        {
            if (!http.WebSockets.IsWebSocketRequest)
            {
                return Results.BadRequest();
            }

            var pool = http.Request.Headers["X-Hoard-Pool"].ToString();
            var presented = http.Request.Headers.Authorization.ToString();
            var driver = pools.Find(pool);
            if (driver is null || !presented.StartsWith("Bearer ", StringComparison.Ordinal)
                || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented[7..]), Encoding.UTF8.GetBytes(driver.AgentKey)))
            {
                return Results.Unauthorized();
            }

            using var socket = await http.WebSockets.AcceptWebSocketAsync();
            var sendLock = new SemaphoreSlim(1, 1);
            var session = new AgentSession(pool, (message, ct) => GuestSocket.SendAsync(socket, sendLock, message, ct));
            hub.Attach(session);
            try
            {
                var welcome = JsonSerializer.SerializeToElement(new { heartbeat_interval_ms = (int)options.HeartbeatInterval.TotalMilliseconds });
                await session.Send(new GuestMessage { Type = GuestMessageTypes.Welcome, Args = welcome }, http.RequestAborted);
                await ReceiveAsync(socket, session, hub, http.RequestAborted);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or JsonException)
            {
                // The agent went away or sent garbage; it reconnects and claims again.
            }
            finally
            {
                hub.Detach(session);
            }

            return Results.Empty;
        });
        return app;
    }

    private static async Task ReceiveAsync(WebSocket socket, AgentSession session, GuestHub hub, CancellationToken cancellationToken)
    {
        var chunk = new byte[16 * 1024];
        using var buffer = new MemoryStream();
        while (socket.State == WebSocketState.Open && await GuestSocket.ReceiveAsync(socket, buffer, chunk, cancellationToken) is { } frame)
        {
            await hub.ReceiveAsync(session, frame, cancellationToken);
        }
    }
}
