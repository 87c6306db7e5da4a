using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// Databases, users, access and root through the stock `openstack database db|user|root` commands, each change
/// checked by logging in with the engine's own client (psql, mariadb, redis-cli), against a real hoard serve.
/// </summary>
public sealed class SchemaStockClientTests : IAsyncLifetime
{
    private HoardServer _server = null!;

    public async Task InitializeAsync() => _server = await HoardServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private IReadOnlyDictionary<string, string> Env => _server.AdminEnvironment;

    [RequiresBinaryFact("openstack", "psql", "/usr/lib/postgresql/15/bin/postgres")]
    public Task PostgreSql_databases_users_access_and_root_through_the_stock_client() => SqlEngineFlowAsync("postgresql", 5432);

    [RequiresBinaryFact("openstack", "mariadb", "mariadbd")]
    public Task MariaDb_databases_users_access_and_root_through_the_stock_client() => SqlEngineFlowAsync("mariadb", 3306);

    private async Task SqlEngineFlowAsync(string datastore, int port)
    {
        // Created with a database and a user at once, as `instance create --databases --users` sends them.
        var created = await OpenStackCli.JsonAsync(
            Env, "database", "instance", "create", "sql1", "--flavor", "1", "--datastore", datastore,
            "--databases", "appdb", "--users", "app:App-pass-1");
        var id = created["id"]!.GetValue<string>();
        var address = await ActiveAddressAsync("sql1");
        Assert.True(await EngineClients.CanLoginAsync(datastore, address, port, "app", "App-pass-1", "appdb"), "the user of the create body logs in to its database");
        Assert.False(await EngineClients.CanLoginAsync(datastore, address, port, "app", "wrong-pass", "appdb"), "password authentication only");

        await Ok("database", "db", "create", "sql1", "second");
        var databases = await OpenStackCli.JsonAsync(Env, "database", "db", "list", "sql1");
        Assert.Equal(["appdb", "second"], databases.AsArray().Select(d => d!["Name"]!.GetValue<string>()).Order());

        await Ok("database", "user", "create", "sql1", "bob", "Bob-pass-1", "--databases", "second");
        var users = await OpenStackCli.JsonAsync(Env, "database", "user", "list", "sql1");
        Assert.Contains(users.AsArray(), u => u!["Name"]!.GetValue<string>() == "bob" && u["Databases"]!.GetValue<string>().Contains("second", StringComparison.Ordinal));
        Assert.DoesNotContain(users.AsArray(), u => u!["Name"]!.GetValue<string>() is "os_admin" or "root" or "postgres");
        var bob = await OpenStackCli.JsonAsync(Env, "database", "user", "show", "sql1", "bob");
        Assert.Equal("bob", bob["name"]!.GetValue<string>());
        Assert.True(await EngineClients.CanLoginAsync(datastore, address, port, "bob", "Bob-pass-1", "second"));
        Assert.False(await EngineClients.CanLoginAsync(datastore, address, port, "bob", "Bob-pass-1", "appdb"), "no access to a database not granted");

        await Ok("database", "user", "grant", "access", "sql1", "bob", "appdb");
        Assert.True(await EngineClients.CanLoginAsync(datastore, address, port, "bob", "Bob-pass-1", "appdb"));
        var access = await OpenStackCli.JsonAsync(Env, "database", "user", "show", "access", "sql1", "bob");
        Assert.Equal(["appdb", "second"], access.AsArray().Select(d => d!["Name"]!.GetValue<string>()).Order());
        await Ok("database", "user", "revoke", "access", "sql1", "bob", "second");
        Assert.False(await EngineClients.CanLoginAsync(datastore, address, port, "bob", "Bob-pass-1", "second"), "revoked access is gone");

        await Ok("database", "user", "update", "attributes", "sql1", "bob", "--new_name", "robert", "--new_password", "Robert-pass-2");
        Assert.True(await EngineClients.CanLoginAsync(datastore, address, port, "robert", "Robert-pass-2", "appdb"));
        Assert.False(await EngineClients.CanLoginAsync(datastore, address, port, "bob", "Bob-pass-1", "appdb"));

        // Bad input: named, refused, and nothing changes.
        var hostile = await OpenStackCli.RunAsync(Env, "database", "db", "create", "sql1", "x; DROP DATABASE appdb");
        Assert.NotEqual(0, hostile.ExitCode);
        Assert.Contains("not a valid", hostile.Stderr, StringComparison.Ordinal);
        var duplicate = await OpenStackCli.RunAsync(Env, "database", "user", "create", "sql1", "robert", "Other-pass-3");
        Assert.NotEqual(0, duplicate.ExitCode);
        Assert.Contains("already exists", duplicate.Stderr, StringComparison.Ordinal);
        var reserved = await OpenStackCli.RunAsync(Env, "database", "user", "create", "sql1", "root", "Root-pass-3");
        Assert.NotEqual(0, reserved.ExitCode);
        Assert.Contains("reserved", reserved.Stderr, StringComparison.Ordinal);
        Assert.True(await EngineClients.CanLoginAsync(datastore, address, port, "robert", "Robert-pass-2", "appdb"), "a refused duplicate changed nothing");
        databases = await OpenStackCli.JsonAsync(Env, "database", "db", "list", "sql1");
        Assert.Equal(["appdb", "second"], databases.AsArray().Select(d => d!["Name"]!.GetValue<string>()).Order());

        var root = await OpenStackCli.JsonAsync(Env, "database", "root", "enable", "sql1");
        var rootPassword = root["password"]!.GetValue<string>();
        Assert.True(await EngineClients.CanLoginAsync(datastore, address, port, root["name"]!.GetValue<string>(), rootPassword));
        Assert.True((await OpenStackCli.JsonAsync(Env, "database", "root", "show", "sql1"))["is_root_enabled"]!.GetValue<bool>());
        await Ok("database", "root", "disable", "sql1");
        Assert.False(await EngineClients.CanLoginAsync(datastore, address, port, root["name"]!.GetValue<string>(), rootPassword), "a disabled root cannot log in");

        await Ok("database", "user", "delete", "sql1", "robert");
        Assert.False(await EngineClients.CanLoginAsync(datastore, address, port, "robert", "Robert-pass-2", "appdb"));
        await Ok("database", "db", "delete", "sql1", "second");
        databases = await OpenStackCli.JsonAsync(Env, "database", "db", "list", "sql1");
        Assert.Equal(["appdb"], databases.AsArray().Select(d => d!["Name"]!.GetValue<string>()));

        await Ok("database", "instance", "delete", id);
        await Timeouts.EventuallyAsync(() => OpenStackCli.RunAsync(Env, "database", "instance", "show", id), r => r.ExitCode != 0, Timeouts.Settle, "sql1 to be gone");
        Assert.Empty(ProcessRunner.FindProcesses(Path.Combine(_server.PoolDir, "instances", id)));

        AssertNoSecretInLogs("App-pass-1", "Bob-pass-1", "Robert-pass-2", rootPassword);
    }

    [RequiresBinaryFact("openstack", "redis-cli", "redis-server")]
    public async Task Redis_users_are_acl_users_and_databases_are_not_supported()
    {
        await OpenStackCli.JsonAsync(Env, "database", "instance", "create", "kv1", "--flavor", "1", "--datastore", "redis", "--users", "cache:Cache-pass-1");
        var address = await ActiveAddressAsync("kv1");
        Assert.True(await EngineClients.CanLoginAsync("redis", address, 6379, "cache", "Cache-pass-1"));

        await Ok("database", "user", "create", "kv1", "reader", "Reader-pass-1");
        var users = await OpenStackCli.JsonAsync(Env, "database", "user", "list", "kv1");
        Assert.Equal(["cache", "reader"], users.AsArray().Select(u => u!["Name"]!.GetValue<string>()).Order());
        var set = await EngineClients.RunAsync("redis", address, 6379, "reader", "Reader-pass-1", null, "SET k v");
        Assert.Equal("OK", set.Stdout.Trim());
        var admin = await EngineClients.RunAsync("redis", address, 6379, "reader", "Reader-pass-1", null, "CONFIG GET maxmemory");
        Assert.Contains("NOPERM", admin.Stdout + admin.Stderr, StringComparison.Ordinal);

        await Ok("database", "user", "delete", "kv1", "reader");
        Assert.False(await EngineClients.CanLoginAsync("redis", address, 6379, "reader", "Reader-pass-1"));

        var databases = await OpenStackCli.RunAsync(Env, "database", "db", "create", "kv1", "somedb");
        Assert.NotEqual(0, databases.ExitCode);
        Assert.Contains("Operation not supported for datastore redis", databases.Stderr, StringComparison.Ordinal);
        var list = await OpenStackCli.RunAsync(Env, "database", "db", "list", "kv1");
        Assert.NotEqual(0, list.ExitCode);
        AssertNoSecretInLogs("Cache-pass-1", "Reader-pass-1");
    }

    [RequiresBinaryFact("redis-server")]
    public async Task Trove_error_contract_for_users_and_databases()
    {
        var (token, project) = await _server.LoginAsync("admin", _server.AdminPassword, "admin");
        using var http = new HttpClient { BaseAddress = new Uri($"{_server.BaseUrl}/v1.0/{project}/"), Timeout = Timeouts.Short };
        http.DefaultRequestHeaders.Add("X-Auth-Token", token);

        // Names the datastore refuses before any instance is made: the create is refused whole.
        var bad = await PostAsync(http, "instances", """{"instance":{"name":"x","flavorRef":"1","datastore":{"type":"redis"},"databases":[{"name":"db"}]}}""");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.Status);
        Assert.Contains("Operation not supported for datastore redis", bad.Text, StringComparison.Ordinal);
        var badUser = await PostAsync(http, "instances", """{"instance":{"name":"x","flavorRef":"1","datastore":{"type":"redis"},"users":[{"name":"a b","password":"p-1"}]}}""");
        Assert.Equal(HttpStatusCode.BadRequest, badUser.Status);
        Assert.Contains("not a valid user name", badUser.Text, StringComparison.Ordinal);
        var noPassword = await PostAsync(http, "instances", """{"instance":{"name":"x","flavorRef":"1","datastore":{"type":"redis"},"users":[{"name":"ok"}]}}""");
        Assert.Equal(HttpStatusCode.BadRequest, noPassword.Status);
        Assert.Contains("instance['users'][0] 'password' is a required property", noPassword.Text, StringComparison.Ordinal);
        var list = await http.GetFromJsonAsync<JsonObject>("instances").Within(Timeouts.Short);
        Assert.Empty(list!["instances"]!.AsArray());

        // Once ACTIVE, user calls are checked as Trove checks them, before the guest is asked.
        var created = await PostAsync(http, "instances", """{"instance":{"name":"kv","flavorRef":"1","datastore":{"type":"redis"}}}""");
        var id = JsonNode.Parse(created.Text)!["instance"]!["id"]!.GetValue<string>();
        await ActiveAddressAsync("kv");
        var missingUsers = await PostAsync(http, $"instances/{id}/users", """{"users":[]}""");
        Assert.Equal(HttpStatusCode.Accepted, missingUsers.Status);
        var noBody = await PostAsync(http, $"instances/{id}/users", """{"user":[]}""");
        Assert.Equal(HttpStatusCode.BadRequest, noBody.Status);
        Assert.Contains("'users' is a required property", noBody.Text, StringComparison.Ordinal);
        var hostile = await PostAsync(http, $"instances/{id}/users", """{"users":[{"name":"x; ACL DELUSER hoard-admin","password":"p-1"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, hostile.Status);
        using var unknown = await http.GetAsync($"instances/{id}/users/nobody").Within(Timeouts.Short);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("User nobody cannot be found on the instance.", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var reserved = await PostAsync(http, $"instances/{id}/users", """{"users":[{"name":"hoard-admin","password":"p-1"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, reserved.Status);
        Assert.Contains("reserved", reserved.Text, StringComparison.Ordinal);
        var made = await PostAsync(http, $"instances/{id}/users", """{"users":[{"name":"u1","password":"U1-pass-1"}]}""");
        Assert.Equal(HttpStatusCode.Accepted, made.Status);
        var again = await PostAsync(http, $"instances/{id}/users", """{"users":[{"name":"u1","password":"U1-pass-2"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, again.Status);
        Assert.Contains("A user with the name \"u1\" already exists.", again.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("U1-pass-2", again.Text, StringComparison.Ordinal);

        // An instance that is not ACTIVE: with its agent frozen, a restart stays REBOOTING, and user calls get 422.
        var agent = _server.AgentPid() ?? throw new InvalidOperationException("no agent runs");
        ProcessRunner.Kill(agent, 19);
        try
        {
            var restart = await PostAsync(http, $"instances/{id}/action", """{"restart":{}}""");
            Assert.Equal(HttpStatusCode.Accepted, restart.Status);
            var busy = await PostAsync(http, $"instances/{id}/users", """{"users":[{"name":"u2","password":"U2-pass-1"}]}""");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, busy.Status);
            Assert.Contains($"Instance {id} is not ready", busy.Text, StringComparison.Ordinal);
        }
        finally
        {
            ProcessRunner.Kill(agent, 18);
        }
    }

    /// <summary>The status, and the Trove error's message (or the whole body when it is not an error).</summary>
    private static async Task<(HttpStatusCode Status, string Text)> PostAsync(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json")).Within(Timeouts.Short);
        var text = await response.Content.ReadAsStringAsync();
        var message = text.Length > 0 && JsonNode.Parse(text) is JsonObject o && o.Count == 1 && o.First().Value?["message"] is JsonValue m ? m.GetValue<string>() : text;
        return (response.StatusCode, message);
    }

    private async Task<string> ActiveAddressAsync(string name)
    {
        var shown = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(Env, "database", "instance", "show", name),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            $"{name} to become ACTIVE");
        Assert.True(shown["status"]!.GetValue<string>() == "ACTIVE", shown.ToJsonString());
        return shown["addresses"]!.AsArray()[0]!["address"]!.GetValue<string>();
    }

    private async Task Ok(params string[] args)
    {
        var result = await OpenStackCli.RunAsync(Env, args);
        Assert.True(result.ExitCode == 0, $"openstack {string.Join(' ', args)}: {result}");
    }

    private void AssertNoSecretInLogs(params string[] secrets)
    {
        var logs = _server.ReadLog() + _server.ReadAgentLog();
        Assert.NotEmpty(logs);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
    }
}
