using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>Trove's status codes and error bodies for bad input, missing auth and foreign projects.</summary>
public sealed class ApiContractTests : IAsyncLifetime
{
    private HoardServer _server = null!;
    private HttpClient _http = null!;
    private string _project = null!;

    public async Task InitializeAsync()
    {
        _server = await HoardServer.StartAsync();
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        _project = project;
        _http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Short };
        _http.DefaultRequestHeaders.Add("X-Auth-Token", token);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsync(HttpMethod method, string path, string? json = null, HttpClient? client = null, bool expectContinue = false)
    {
        using var request = new HttpRequestMessage(method, path);
        // With 100-continue the client waits for the server's verdict before uploading, so a refused
        // upload reads as the server's 413 rather than a broken pipe mid-send.
        request.Headers.ExpectContinue = expectContinue;
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await (client ?? _http).SendAsync(request).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    private static void AssertFault(HttpStatusCode expected, string fault, string messagePart, (HttpStatusCode Status, JsonObject? Body) actual)
    {
        Assert.Equal(expected, actual.Status);
        var inner = actual.Body?[fault];
        Assert.True(inner is not null, $"expected a '{fault}' body, got {actual.Body?.ToJsonString()}");
        Assert.Equal((int)expected, inner!["code"]!.GetValue<int>());
        Assert.Contains(messagePart, inner["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"instance\":", "Malformed request body")]
    [InlineData("not json", "Malformed request body")]
    [InlineData("[]", "a JSON object is expected")]
    [InlineData("{}", "'instance' is a required property")]
    [InlineData("{\"instance\":\"x\"}", "instance 'x' is not of type 'object'")]
    [InlineData("{\"instance\":{\"flavorRef\":\"2\"}}", "instance 'name' is a required property")]
    [InlineData("{\"instance\":{\"name\":5,\"flavorRef\":\"2\"}}", "instance['name'] 5 is not of type 'string'")]
    [InlineData("{\"instance\":{\"name\":\"\",\"flavorRef\":\"2\"}}", "instance['name'] '' is too short")]
    [InlineData("{\"instance\":{\"name\":\"db\",\"flavorRef\":2.5}}", "instance['flavorRef'] 2.5 is not valid under any of the given schemas")]
    [InlineData("{\"instance\":{\"name\":\"db\",\"flavorRef\":\"2\",\"datastore\":\"redis\"}}", "instance['datastore'] 'redis' is not of type 'object'")]
    [InlineData("{\"instance\":{\"name\":\"db\",\"flavorRef\":\"2\",\"volume\":{\"size\":0}}}", "instance['volume']['size'] 0 is not valid")]
    [InlineData("{\"instance\":{\"name\":\"db\",\"flavorRef\":\"999\",\"datastore\":{\"type\":\"redis\"}}}", "Resource 999 cannot be found.")]
    [InlineData("{\"instance\":{\"name\":\"db\",\"flavorRef\":\"2\",\"datastore\":{\"type\":\"redis\",\"version\":\"9.9\"}}}", "Datastore version '9.9' cannot be found.")]
    public async Task Bad_create_bodies_get_a_400_naming_the_problem(string body, string message)
    {
        AssertFault(HttpStatusCode.BadRequest, "badRequest", message, await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances", body));
        var list = await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances");
        Assert.Empty(list.Body!["instances"]!.AsArray());
    }

    [Theory]
    [InlineData("replica_of", "\"00000000-0000-0000-0000-000000000000\"")]
    [InlineData("replica_count", "2")]
    public async Task Asking_for_replication_is_refused_rather_than_making_a_plain_instance(string key, string value)
    {
        var body = $"{{\"instance\":{{\"name\":\"db\",\"flavorRef\":\"2\",\"datastore\":{{\"type\":\"redis\"}},\"{key}\":{value}}}}}";
        AssertFault(HttpStatusCode.NotImplemented, "notImplemented", $"Replication ('{key}') is not supported yet", await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances", body));
        var list = await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances");
        Assert.Empty(list.Body!["instances"]!.AsArray());
    }

    [Fact]
    public async Task Over_long_names_unknown_datastores_and_huge_bodies_are_refused()
    {
        var longName = new string('a', 256);
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "is too long", await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances", $"{{\"instance\":{{\"name\":\"{longName}\",\"flavorRef\":\"2\"}}}}"));
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "Datastore 'nosuch' cannot be found.", await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances", "{\"instance\":{\"name\":\"db\",\"flavorRef\":\"2\",\"datastore\":{\"type\":\"nosuch\"}}}"));
        var deep = new string('[', 100) + new string(']', 100);
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "Malformed request body", await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances", $"{{\"instance\":{deep}}}"));
        var huge = "{\"instance\":{\"name\":\"" + new string('x', 2 * 1024 * 1024) + "\"}}";
        var result = await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances", huge, expectContinue: true);
        AssertFault(HttpStatusCode.RequestEntityTooLarge, "overLimit", "Request body is larger than 1048576 bytes.", result);
    }

    [Fact]
    public async Task A_body_not_sent_as_json_is_troves_415_naming_its_media_type_and_json_with_any_charset_is_read()
    {
        // Trove 18 reads a body only as its Content-Type says and answers text/plain, forms, XML and none with 415
        // "The request media type … is not supported by this server." (its fake mode, checked side by side).
        async Task<(HttpStatusCode Status, JsonObject? Body)> SendAsAsync(string path, string body, string? contentType, HttpMethod? method = null)
        {
            using var request = new HttpRequestMessage(method ?? HttpMethod.Post, path) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) };
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }

            using var response = await _http.SendAsync(request).Within(Timeouts.Short);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
        }

        var instances = $"/v1.0/{_project}/instances";
        var create = """{"instance":{"name":"typed","flavorRef":"2","datastore":{"type":"nosuch"}}}""";
        foreach (var type in new[] { "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "application/xml", "text/xml", "application/octet-stream" })
        {
            AssertFault((HttpStatusCode)415, "badMediaType", $"The request media type {type} is not supported by this server.", await SendAsAsync(instances, create, type));
        }

        AssertFault((HttpStatusCode)415, "badMediaType", "no Content-Type", await SendAsAsync(instances, create, null));
        AssertFault((HttpStatusCode)415, "badMediaType", "text/plain", await SendAsAsync($"/v1.0/{_project}/mgmt/quotas/{_project}", """{"quotas":{"instances":1}}""", "text/plain", HttpMethod.Put));

        // JSON is read whatever its charset parameter or case (the body then fails on its own merits, past the media type).
        foreach (var type in new[] { "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON" })
        {
            AssertFault(HttpStatusCode.NotFound, "itemNotFound", "Datastore 'nosuch' cannot be found.", await SendAsAsync(instances, create, type));
        }

        // No body, no media type to judge: Trove too looks at the Content-Type only when there is a body.
        Assert.Equal(HttpStatusCode.OK, (await SendAsAsync(instances, string.Empty, "text/plain", HttpMethod.Get)).Status);

        // Keystone's token route keeps its own rules: a password auth sent as JSON still issues a token.
        var auth = """{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":""" +
            JsonValue.Create(_server.AdminPassword).ToJsonString() + """}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}""";
        Assert.Equal(HttpStatusCode.Created, (await SendAsAsync("/identity/v3/auth/tokens", auth, "application/json")).Status);
    }

    [Fact]
    public async Task Unknown_instances_are_404_and_actions_name_what_is_wrong()
    {
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "Resource nope cannot be found.", await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances/nope"));
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "Resource nope cannot be found.", await SendAsync(HttpMethod.Delete, $"/v1.0/{_project}/instances/nope"));
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "cannot be found", await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances/nope/action", "{\"restart\":{}}"));
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "unknown action 'explode'", await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances/nope/action", "{\"explode\":{}}"));
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "Resource 99 cannot be found.", await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/flavors/99"));
        AssertFault(HttpStatusCode.NotFound, "itemNotFound", "The resource could not be found.", await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/no-such-route"));
    }

    [Fact]
    public async Task Requests_without_a_valid_token_are_401_and_other_tenants_403()
    {
        using var anonymous = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = Timeouts.Short };
        AssertFault(HttpStatusCode.Unauthorized, "unauthorized", "requires authentication", await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances", client: anonymous));
        anonymous.DefaultRequestHeaders.Add("X-Auth-Token", "forged-token");
        AssertFault(HttpStatusCode.Unauthorized, "unauthorized", "requires authentication", await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances", client: anonymous));
        AssertFault(HttpStatusCode.Forbidden, "forbidden", "cannot access this resource", await SendAsync(HttpMethod.Get, "/v1.0/someone-else/instances"));

        // Versions are public, as in Trove.
        var versions = await SendAsync(HttpMethod.Get, "/", client: anonymous);
        Assert.Equal("v1.0", versions.Body!["versions"]![0]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_show_rename_restart_and_list_with_paging()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var created = await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances", $"{{\"instance\":{{\"name\":\"db{i}\",\"flavorRef\":1,\"datastore\":{{\"type\":\"redis\"}}}}}}");
            Assert.Equal(HttpStatusCode.OK, created.Status);
            ids.Add(created.Body!["instance"]!["id"]!.GetValue<string>());
        }

        foreach (var id in ids)
        {
            await Timeouts.EventuallyAsync(() => SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances/{id}"), r => r.Body!["instance"]!["status"]!.GetValue<string>() == "ACTIVE", Timeouts.Settle, $"{id} ACTIVE");
        }

        // A second action while a restart runs is refused with Trove's 422 (or accepted once the first finished).
        var restart = await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances/{ids[0]}/action", "{\"restart\":{}}");
        Assert.Equal(HttpStatusCode.Accepted, restart.Status);
        var again = await SendAsync(HttpMethod.Post, $"/v1.0/{_project}/instances/{ids[0]}/action", "{\"restart\":{}}");
        Assert.True(again.Status is HttpStatusCode.UnprocessableEntity or HttpStatusCode.Accepted, again.Body?.ToJsonString());
        await Timeouts.EventuallyAsync(() => SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances/{ids[0]}"), r => r.Body!["instance"]!["status"]!.GetValue<string>() == "ACTIVE", Timeouts.Settle, "restart done");

        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(HttpMethod.Put, $"/v1.0/{_project}/instances/{ids[1]}", "{\"instance\":{\"name\":\"renamed\"}}")).Status);
        Assert.Equal("renamed", (await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances/{ids[1]}")).Body!["instance"]!["name"]!.GetValue<string>());
        AssertFault(HttpStatusCode.BadRequest, "badRequest", "Additional properties are not allowed ('color' was unexpected)", await SendAsync(HttpMethod.Patch, $"/v1.0/{_project}/instances/{ids[1]}", "{\"instance\":{\"color\":\"red\"}}"));

        var first = await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances?limit=2");
        Assert.Equal(2, first.Body!["instances"]!.AsArray().Count);
        var next = first.Body["links"]![0]!["href"]!.GetValue<string>();
        Assert.Contains($"marker={ids[1]}", next, StringComparison.Ordinal);
        var second = await SendAsync(HttpMethod.Get, new Uri(next).PathAndQuery);
        Assert.Equal(ids[2], Assert.Single(second.Body!["instances"]!.AsArray())!["id"]!.GetValue<string>());
        Assert.Null(second.Body["links"]);

        AssertFault(HttpStatusCode.BadRequest, "badRequest", "limit 'abc' is not a positive integer", await SendAsync(HttpMethod.Get, $"/v1.0/{_project}/instances?limit=abc"));
    }
}
