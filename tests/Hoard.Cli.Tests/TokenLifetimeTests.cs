using System.Net;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// A token ends when it expires (<c>[DEFAULT] token_expiration</c>) or is revoked (<c>DELETE /identity/v3/auth/tokens</c>),
/// and stays ended across a restart of the control plane; one neither expired nor revoked survives the restart.
/// Tokens are kept only as their SHA-256, so this is the store's record speaking, not a cache.
/// </summary>
public sealed class TokenLifetimeTests
{
    [Fact]
    public async Task A_revoked_or_expired_token_is_refused_and_stays_refused_across_a_restart_while_a_live_one_survives_it()
    {
        await using var server = await HoardServer.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Short };
        var (kept, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        var (revoked, _) = await server.LoginAsync("admin", server.AdminPassword, "admin");

        async Task<HttpStatusCode> UseAsync(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1.0/{project}/instances");
            request.Headers.Add("X-Auth-Token", token);
            using var response = await http.SendAsync(request).Within(Timeouts.Short);
            return response.StatusCode;
        }

        async Task<HttpStatusCode> TokenRouteAsync(HttpMethod method, string caller, string subject)
        {
            using var request = new HttpRequestMessage(method, "/identity/v3/auth/tokens");
            request.Headers.Add("X-Auth-Token", caller);
            request.Headers.Add("X-Subject-Token", subject);
            using var response = await http.SendAsync(request).Within(Timeouts.Short);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await UseAsync(kept));
        Assert.Equal(HttpStatusCode.OK, await UseAsync(revoked));

        // Revoked by its own user: refused at once, no longer validated, not revocable twice; the other token is untouched.
        Assert.Equal(HttpStatusCode.NoContent, await TokenRouteAsync(HttpMethod.Delete, revoked, revoked));
        Assert.Equal(HttpStatusCode.Unauthorized, await UseAsync(revoked));
        Assert.Equal(HttpStatusCode.NotFound, await TokenRouteAsync(HttpMethod.Get, kept, revoked));
        Assert.Equal(HttpStatusCode.NotFound, await TokenRouteAsync(HttpMethod.Delete, kept, revoked));
        Assert.Equal(HttpStatusCode.OK, await UseAsync(kept));

        // A restart forgets every cached token: what answers now is the store's record. Tokens issued from here on
        // live 2 seconds.
        await server.RestartWithAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_TOKEN_EXPIRATION"] = "2" });
        Assert.Equal(HttpStatusCode.Unauthorized, await UseAsync(revoked));
        Assert.Equal(HttpStatusCode.OK, await UseAsync(kept)); // issued for an hour, before the change

        var (shortLived, _) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        Assert.Equal(HttpStatusCode.OK, await UseAsync(shortLived));
        await Timeouts.EventuallyAsync(() => UseAsync(shortLived), s => s == HttpStatusCode.Unauthorized, Timeouts.Short, "the 2-second token to expire");
        Assert.Equal(HttpStatusCode.NotFound, await TokenRouteAsync(HttpMethod.Get, kept, shortLived));

        // A token validated from the store after a restart, then revoked by an admin (another token here), then a
        // restart: every ended token stays refused, the live one still answers.
        await server.RestartWithAsync(new Dictionary<string, string> { ["HOARD_DEFAULT_TOKEN_EXPIRATION"] = "3600" });
        var (another, _) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        await server.RestartWithAsync(new Dictionary<string, string>());
        Assert.Equal(HttpStatusCode.OK, await UseAsync(another));
        Assert.Equal(HttpStatusCode.NoContent, await TokenRouteAsync(HttpMethod.Delete, kept, another));
        await server.RestartWithAsync(new Dictionary<string, string>());
        Assert.Equal(HttpStatusCode.Unauthorized, await UseAsync(another));
        Assert.Equal(HttpStatusCode.Unauthorized, await UseAsync(shortLived));
        Assert.Equal(HttpStatusCode.Unauthorized, await UseAsync(revoked));
        Assert.Equal(HttpStatusCode.OK, await UseAsync(kept));
    }

    [RequiresBinaryFact("redis-server")]
    public async Task A_token_revoked_through_one_replica_is_refused_by_the_other_within_seconds()
    {
        var redis = new RedisTestServer();
        try
        {
            await redis.InitializeAsync();
            var replicas = await HoardServer.StartReplicasAsync(2, new Dictionary<string, string>
            {
                ["HOARD_DATABASE_CONNECTION"] = redis.ConnectionString(await redis.FreshDatabaseAsync()).AbsoluteUri,
            });
            await using var a = replicas[0];
            await using var b = replicas[1];
            var (token, project) = await a.LoginAsync("admin", a.AdminPassword, "admin");
            using var http = new HttpClient { Timeout = Timeouts.Short };

            async Task<HttpStatusCode> SendAsync(HoardServer server, HttpMethod method, string path, bool subject = false)
            {
                using var request = new HttpRequestMessage(method, server.BaseUrl + path);
                request.Headers.Add("X-Auth-Token", token);
                if (subject)
                {
                    request.Headers.Add("X-Subject-Token", token);
                }

                using var response = await http.SendAsync(request).Within(Timeouts.Short);
                return response.StatusCode;
            }

            // B has validated (and so remembers) the token before A revokes it.
            Assert.Equal(HttpStatusCode.OK, await SendAsync(b, HttpMethod.Get, $"/v1.0/{project}/instances"));
            Assert.Equal(HttpStatusCode.NoContent, await SendAsync(a, HttpMethod.Delete, "/identity/v3/auth/tokens", subject: true));
            Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(a, HttpMethod.Get, $"/v1.0/{project}/instances"));
            await Timeouts.EventuallyAsync(
                () => SendAsync(b, HttpMethod.Get, $"/v1.0/{project}/instances"),
                s => s == HttpStatusCode.Unauthorized,
                Timeouts.Short,
                "replica B to refuse the token A revoked");
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }
}
