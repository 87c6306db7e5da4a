using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Trove's per-project rate limits (<c>[DEFAULT] http_*_rate</c>) against a real hoard serve: a project's request
/// past its rate is Trove's 413 overLimit with Retry-After, other projects and other kinds of request are counted
/// apart, a concurrent burst lets exactly the rate through, and <c>GET /limits</c> (and the stock client's
/// <c>openstack database limit list</c>) shows what is left. Each test has its own server, so its own minute.
/// </summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private HoardServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        // Small rates, so a test spends them in well under the minute; the fixture lifts them for every other suite.
        _server = await HoardServer.StartAsync(new Dictionary<string, string>
        {
            ["HOARD_DEFAULT_HTTP_POST_RATE"] = "5",
            ["HOARD_DEFAULT_HTTP_GET_RATE"] = "10",
            ["HOARD_DEFAULT_HTTP_PUT_RATE"] = "3",
            ["HOARD_DEFAULT_HTTP_DELETE_RATE"] = "3",
            ["HOARD_DEFAULT_HTTP_MGMT_POST_RATE"] = "2",
        });
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _admin = Client(token, project);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    private HttpClient Client(string token, string project)
    {
        var http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Settle };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        return http;
    }

    private sealed record Answer(HttpStatusCode Status, JsonObject? Body, string? RetryAfter)
    {
        public override string ToString() => $"{(int)Status} {Body?.ToJsonString()}";
    }

    private static async Task<Answer> SendAsync(HttpClient http, HttpMethod method, string path, JsonNode? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request).Within(Timeouts.Settle);
        var text = await response.Content.ReadAsStringAsync().Within(Timeouts.Short);
        var retry = response.Headers.TryGetValues("Retry-After", out var values) ? values.Single() : null;
        return new(response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject, retry);
    }

    /// <summary>A POST that is counted and then refused by the handler (no such instance): cheap, and changes nothing.</summary>
    private static Task<Answer> PostAsync(HttpClient http) =>
        SendAsync(http, HttpMethod.Post, $"instances/{Guid.NewGuid()}/action", JsonNode.Parse("""{"restart": {}}"""));

    private static void AssertRateLimited(string details, Answer answer)
    {
        Assert.True(answer.Status == HttpStatusCode.RequestEntityTooLarge, answer.ToString());
        var overLimit = answer.Body!["overLimit"]!;
        Assert.Equal(413, overLimit["code"]!.GetValue<int>());
        Assert.Equal("This request was rate-limited.", overLimit["message"]!.GetValue<string>());
        Assert.Equal(details, overLimit["details"]!.GetValue<string>());

        // Trove sends the seconds as a string, the same as the header.
        var retryAfter = overLimit["retryAfter"]!.GetValue<string>();
        Assert.Equal(answer.RetryAfter, retryAfter);
        Assert.InRange(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), 1, 60);
    }

    private static void AssertPassed(Answer answer) =>
        Assert.True(answer.Status != HttpStatusCode.RequestEntityTooLarge, answer.ToString());

    private async Task<Dictionary<string, JsonNode>> RateEntriesAsync(HttpClient http)
    {
        var limits = await SendAsync(http, HttpMethod.Get, "limits");
        Assert.True(limits.Status == HttpStatusCode.OK, limits.ToString());
        var entries = limits.Body!["limits"]!.AsArray();
        Assert.Equal("ABSOLUTE", entries[0]!["verb"]!.GetValue<string>());
        return entries.Skip(1).ToDictionary(e => $"{e!["verb"]!.GetValue<string>()} {e["uri"]!.GetValue<string>()}", e => e!);
    }

    /// <summary>A second project with a member in it, logged in.</summary>
    private async Task<HttpClient> OtherProjectAsync()
    {
        var made = await SendAsync(_admin, HttpMethod.Post, $"{_server.BaseUrl}/identity/v3/projects", JsonNode.Parse("""{"project": {"name": "other", "domain_id": "default"}}"""));
        Assert.True(made.Status == HttpStatusCode.Created, made.ToString());
        var otherId = made.Body!["project"]!["id"]!.GetValue<string>();
        var user = await SendAsync(_admin, HttpMethod.Post, $"{_server.BaseUrl}/identity/v3/users", new JsonObject { ["user"] = new JsonObject { ["name"] = "mona", ["password"] = "pw-mona-1", ["default_project_id"] = otherId, ["domain_id"] = "default" } });
        Assert.True(user.Status == HttpStatusCode.Created, user.ToString());
        var member = (await SendAsync(_admin, HttpMethod.Get, $"{_server.BaseUrl}/identity/v3/roles?name=member")).Body!["roles"]![0]!["id"]!.GetValue<string>();
        await SendAsync(_admin, HttpMethod.Put, $"{_server.BaseUrl}/identity/v3/projects/{otherId}/users/{user.Body!["user"]!["id"]!.GetValue<string>()}/roles/{member}");
        var (token, project) = await _server.LoginAsync("mona", "pw-mona-1", "other");
        return Client(token, project);
    }

    [Fact]
    public async Task A_projects_sixth_POST_in_the_minute_is_refused_with_Troves_body_while_another_project_and_its_GETs_pass()
    {
        using var other = await OtherProjectAsync();
        for (var i = 0; i < 5; i++)
        {
            AssertPassed(await PostAsync(_admin));
        }

        AssertRateLimited("Only 5 POST request(s) can be made to * every minute.", await PostAsync(_admin));

        // The limit is the project's: another project's POSTs still pass, and this project's GETs are counted apart.
        AssertPassed(await PostAsync(other));
        var list = await SendAsync(_admin, HttpMethod.Get, "instances");
        Assert.True(list.Status == HttpStatusCode.OK, list.ToString());

        // Identity calls are not Trove routes: a new login still works for the limited project.
        var (token, _) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        Assert.NotEmpty(token);
    }

    [Fact]
    public async Task Limits_shows_each_kinds_remaining_count_going_down_and_GETs_and_mgmt_POSTs_have_their_own()
    {
        var first = await RateEntriesAsync(_admin);
        Assert.Equal(new[] { "POST *", "PUT *", "DELETE *", "GET *", "POST */mgmt" }, first.Keys.ToArray());
        var post = first["POST *"];
        Assert.Equal((5, 5, "MINUTE", ".*"), (post["value"]!.GetValue<int>(), post["remaining"]!.GetValue<int>(), post["unit"]!.GetValue<string>(), post["regex"]!.GetValue<string>()));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", post["nextAvailable"]!.GetValue<string>());
        Assert.Equal("^/mgmt", first["POST */mgmt"]["regex"]!.GetValue<string>());

        // The GET /limits itself is counted, as Trove counts it before answering.
        Assert.Equal((10, 9), (first["GET *"]["value"]!.GetValue<int>(), first["GET *"]["remaining"]!.GetValue<int>()));

        AssertPassed(await PostAsync(_admin));
        AssertPassed(await PostAsync(_admin));
        var mgmt = await SendAsync(_admin, HttpMethod.Post, "mgmt/pools", new JsonObject());
        AssertPassed(mgmt);
        var second = await RateEntriesAsync(_admin);
        Assert.Equal(3, second["POST *"]["remaining"]!.GetValue<int>());
        Assert.Equal(8, second["GET *"]["remaining"]!.GetValue<int>());
        Assert.Equal((2, 1), (second["POST */mgmt"]["value"]!.GetValue<int>(), second["POST */mgmt"]["remaining"]!.GetValue<int>()));
        Assert.Equal(3, second["DELETE *"]["remaining"]!.GetValue<int>());

        // The GETs left are spent; the next is refused, while POSTs (3 left) still pass.
        for (var i = 0; i < 8; i++)
        {
            AssertPassed(await SendAsync(_admin, HttpMethod.Get, "instances"));
        }

        AssertRateLimited("Only 10 GET request(s) can be made to * every minute.", await SendAsync(_admin, HttpMethod.Get, "instances"));
        AssertPassed(await PostAsync(_admin));

        // Mgmt POSTs have their own count: one left, then refused naming */mgmt.
        AssertPassed(await SendAsync(_admin, HttpMethod.Post, "mgmt/pools", new JsonObject()));
        AssertRateLimited("Only 2 POST request(s) can be made to */mgmt every minute.", await SendAsync(_admin, HttpMethod.Post, "mgmt/pools", new JsonObject()));
    }

    [Fact]
    public async Task A_concurrent_burst_of_fifty_POSTs_against_a_rate_of_five_lets_exactly_five_through()
    {
        var burst = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => PostAsync(_admin)))).Within(Timeouts.Settle);
        Figures.Record("rate limits", "concurrent POSTs against a rate of 5 a minute", burst.Length);
        Figures.Record("rate limits", "of them let through", burst.Count(a => a.Status != HttpStatusCode.RequestEntityTooLarge));

        Assert.Equal(5, burst.Count(a => a.Status != HttpStatusCode.RequestEntityTooLarge));
        Assert.All(burst.Where(a => a.Status == HttpStatusCode.RequestEntityTooLarge), a => AssertRateLimited("Only 5 POST request(s) can be made to * every minute.", a));
        Assert.Equal(0, (await RateEntriesAsync(_admin))["POST *"]["remaining"]!.GetValue<int>());
    }

    [RequiresBinaryFact("openstack")]
    public async Task The_stock_client_lists_the_rate_limits_with_what_is_left()
    {
        AssertPassed(await PostAsync(_admin));
        var listed = await OpenStackCli.RunAsync(_server.AdminEnvironment, "database", "limit", "list");
        Assert.True(listed.ExitCode == 0, listed.ToString());

        // Columns Value, Verb, Remaining, Unit, in Trove's order of the limits.
        var rows = Regex.Matches(listed.Stdout, @"^\|\s*(-?\d+)\s*\|\s*(\w+)\s*\|\s*(-?\d+)\s*\|\s*(\w+)\s*\|$", RegexOptions.Multiline)
            .Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value} {m.Groups[3].Value} {m.Groups[4].Value}")
            .ToList();
        Assert.True(rows.Count == 5, listed.Stdout);
        Assert.Equal("5 POST 4 MINUTE", rows[0]);
        Assert.Equal("3 PUT 3 MINUTE", rows[1]);
        Assert.Equal("3 DELETE 3 MINUTE", rows[2]);
        Assert.Matches(@"^10 GET \d MINUTE$", rows[3]);
        Assert.Equal("2 POST 2 MINUTE", rows[4]);
    }
}
