using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>How hoard serve starts, or refuses to, with a profiler configured; and that a dead trace backend costs requests nothing.</summary>
public sealed class ProfilerStartupTests
{
    [Theory]
    [InlineData("bogus://tracer:sekrit-pw@127.0.0.1:1/0", "k1", "no trace plugin named 'bogus' (known: otlp, postgresql, redis, sqlite)")]
    [InlineData("redis://tracer:sekrit-pw@127.0.0.1:1/zero", "k1", "database 'zero' is not a number")]
    [InlineData("redis://127.0.0.1:1/0", "", "needs hmac_keys")]
    public async Task A_bad_profiler_configuration_stops_start_up_with_a_clear_error_that_keeps_passwords_out(string connection, string keys, string expected)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "hoard-test-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            var result = await ProcessRunner.RunAsync(
                HoardServer.Executable,
                ["serve", "--listen", "127.0.0.1:1", "--data-dir", dataDir, "--profiler-connection-string", connection, "--profiler-hmac-keys", keys],
                new Dictionary<string, string> { ["HOARD_ADMIN_PASSWORD"] = "adm-" + Guid.NewGuid().ToString("N") },
                Timeouts.Cli);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("sekrit-pw", result.Stdout + result.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task With_the_trace_backend_down_a_traced_request_is_still_served_and_the_lost_points_are_reported()
    {
        // A port nothing listens on: every write to the backend fails.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var deadPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var server = await HoardServer.StartAsync(null, ["--profiler-connection-string", $"redis://127.0.0.1:{deadPort}/0", "--profiler-hmac-keys", "k1"]);

        await SignedGetAsync(server, Guid.NewGuid().ToString());

        await Timeouts.EventuallyAsync(
            () => Task.FromResult(server.ReadLog()),
            log => log.Contains("The trace backend refused", StringComparison.Ordinal),
            Timeouts.Settle,
            "the writer to report the dropped points");
    }

    [Fact]
    public async Task Without_a_connection_string_traces_go_to_the_embedded_sqlite_file_in_the_data_directory()
    {
        await using var server = await HoardServer.StartAsync(null, ["--profiler-hmac-keys", "k1"]);
        var baseId = Guid.NewGuid().ToString();
        await SignedGetAsync(server, baseId);

        var connection = "sqlite://" + Path.Combine(server.DataDir, "traces.db");
        var shown = await Timeouts.EventuallyAsync(
            () => ProcessRunner.RunAsync(HoardServer.Executable, ["trace", "show", baseId, "--json", "--connection-string", connection], timeout: Timeouts.Cli),
            r => r.ExitCode == 0,
            Timeouts.Settle,
            "the request's trace to be written");
        Assert.Contains("\"wsgi", shown.Stdout, StringComparison.Ordinal);
        Assert.Contains(baseId, (await ProcessRunner.RunAsync(HoardServer.Executable, ["trace", "list", "--connection-string", connection], timeout: Timeouts.Cli)).Stdout, StringComparison.Ordinal);
    }

    /// <summary>A GET / signed as OSProfiler signs (base64url JSON, HMAC-SHA1 hex with key k1); it must be served and name its trace.</summary>
    private static async Task SignedGetAsync(HoardServer server, string baseId)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Cli };
        var info = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"base_id\": \"{baseId}\", \"parent_id\": \"{baseId}\"}}")).Replace('+', '-').Replace('/', '_');
#pragma warning disable CA5350 // OSProfiler's header format is HMAC-SHA1.
        var hmac = Convert.ToHexStringLower(HMACSHA1.HashData("k1"u8, Encoding.UTF8.GetBytes(info)));
#pragma warning restore CA5350
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Trace-Info", info);
        request.Headers.Add("X-Trace-HMAC", hmac);
        using var response = await http.SendAsync(request).Within(Timeouts.Cli);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode}");
        Assert.Equal([baseId], response.Headers.GetValues("X-Trace-ID"));
    }
}
