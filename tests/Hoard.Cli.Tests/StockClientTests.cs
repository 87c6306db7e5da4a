using System.Text.Json.Nodes;
using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// The flow the README promises, driven by the stock openstack client from Debian, unmodified, against a
/// real hoard serve, its guest agent and real redis-server processes.
/// </summary>
public sealed class StockClientTests : IAsyncLifetime
{
    private HoardServer _server = null!;

    public async Task InitializeAsync() => _server = await HoardServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [RequiresBinaryFact("openstack", "redis-cli", "redis-server")]
    public async Task Create_connect_with_root_and_delete_leaves_nothing_behind()
    {
        var env = _server.AdminEnvironment;
        var created = await OpenStackCli.JsonAsync(env, "database", "instance", "create", "db1", "--flavor", "2", "--datastore", "redis", "--datastore-version", "7.0");
        Assert.Equal("BUILD", created["status"]!.GetValue<string>());
        var id = created["id"]!.GetValue<string>();

        var shown = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(env, "database", "instance", "show", "db1"),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "db1 to become ACTIVE");
        Assert.Equal("ACTIVE", shown["status"]!.GetValue<string>());
        Assert.Equal("HEALTHY", shown["operating_status"]!.GetValue<string>());
        var address = shown["addresses"]!.AsArray()[0]!["address"]!.GetValue<string>();
        Assert.StartsWith(_server.AddressRange[..^4], address, StringComparison.Ordinal);

        var list = await OpenStackCli.JsonAsync(env, "database", "instance", "list");
        Assert.Contains(list.AsArray(), i => i!["ID"]!.GetValue<string>() == id && i["Status"]!.GetValue<string>() == "ACTIVE");

        // Redis always wants a password: no anonymous access on the instance's own address.
        var anonymous = await ProcessRunner.RunAsync("redis-cli", ["-h", address, "SET", "k", "v"]);
        Assert.Contains("NOAUTH", anonymous.Stdout + anonymous.Stderr, StringComparison.Ordinal);

        var root = await OpenStackCli.JsonAsync(env, "database", "root", "enable", "db1");
        Assert.Equal("root", root["name"]!.GetValue<string>());
        var password = root["password"]!.GetValue<string>();
        var set = await ProcessRunner.RunAsync("redis-cli", ["-h", address, "--user", "root", "--pass", password, "--no-auth-warning", "SET", "greeting", "hello"]);
        Assert.Equal("OK", set.Stdout.Trim());
        var get = await ProcessRunner.RunAsync("redis-cli", ["-h", address, "--user", "root", "--pass", password, "--no-auth-warning", "GET", "greeting"]);
        Assert.Equal("hello", get.Stdout.Trim());
        var rootShown = await OpenStackCli.JsonAsync(env, "database", "root", "show", "db1");
        Assert.True(rootShown["is_root_enabled"]!.GetValue<bool>());

        // Nothing answers on another loopback address with the same port: it listens only on its own.
        var elsewhere = await ProcessRunner.RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", "6379", "--user", "root", "--pass", password, "--no-auth-warning", "PING"]);
        Assert.NotEqual("PONG", elsewhere.Stdout.Trim());

        var dir = Path.Combine(_server.PoolDir, "instances", id);
        Assert.True(Directory.Exists(dir));
        Assert.NotEmpty(ProcessRunner.FindProcesses("redis-server", address + ":"));

        var deleted = await OpenStackCli.RunAsync(env, "database", "instance", "delete", "db1");
        Assert.Equal(0, deleted.ExitCode);
        await Timeouts.EventuallyAsync(
            () => OpenStackCli.RunAsync(env, "database", "instance", "show", id),
            r => r.ExitCode != 0,
            Timeouts.Settle,
            "db1 to be gone");
        Assert.False(Directory.Exists(dir), "the instance directory is removed");
        Assert.Empty(ProcessRunner.FindProcesses("redis-server", address + ":"));
        var ping = await ProcessRunner.RunAsync("redis-cli", ["-h", address, "PING"]);
        Assert.Contains("Connection refused", ping.Stdout + ping.Stderr, StringComparison.Ordinal);

        // No password ever reaches a log.
        var logs = _server.ReadLog() + _server.ReadAgentLog();
        Assert.NotEmpty(logs);
        Assert.DoesNotContain(password, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.AdminPassword, logs, StringComparison.Ordinal);
    }

    [RequiresBinaryFact("openstack")]
    public async Task Admin_creates_a_project_and_member_who_sees_only_their_own_instances()
    {
        var admin = _server.AdminEnvironment;
        var project = await OpenStackCli.JsonAsync(admin, "project", "create", "tenant2");
        Assert.Equal("tenant2", project["name"]!.GetValue<string>());
        var shown = await OpenStackCli.JsonAsync(admin, "project", "show", "tenant2");
        Assert.Equal(project["id"]!.GetValue<string>(), shown["id"]!.GetValue<string>());
        await OpenStackCli.JsonAsync(admin, "user", "create", "--project", "tenant2", "--password", "pw-alice-1", "alice");
        var role = await OpenStackCli.RunAsync(admin, "role", "add", "--project", "tenant2", "--user", "alice", "member");
        Assert.True(role.ExitCode == 0, role.ToString());

        var alice = new Dictionary<string, string>(admin) { ["OS_USERNAME"] = "alice", ["OS_PASSWORD"] = "pw-alice-1", ["OS_PROJECT_NAME"] = "tenant2" };
        var mine = await OpenStackCli.JsonAsync(alice, "database", "instance", "create", "alices-db", "--flavor", "1", "--datastore", "redis");
        var theirs = await OpenStackCli.JsonAsync(admin, "database", "instance", "create", "admins-db", "--flavor", "1", "--datastore", "redis");

        var aliceList = (await OpenStackCli.JsonAsync(alice, "database", "instance", "list")).AsArray();
        Assert.Single(aliceList);
        Assert.Equal(mine["id"]!.GetValue<string>(), aliceList[0]!["ID"]!.GetValue<string>());

        // Another project's instance is not found, by id or by name, and cannot be deleted.
        var show = await OpenStackCli.RunAsync(alice, "database", "instance", "show", theirs["id"]!.GetValue<string>());
        Assert.NotEqual(0, show.ExitCode);
        var delete = await OpenStackCli.RunAsync(alice, "database", "instance", "delete", theirs["id"]!.GetValue<string>());
        Assert.NotEqual(0, delete.ExitCode);
        var still = await OpenStackCli.JsonAsync(admin, "database", "instance", "show", "admins-db");
        Assert.NotEqual("SHUTDOWN", still["status"]!.GetValue<string>());

        // A wrong password gets no token.
        var wrong = new Dictionary<string, string>(alice) { ["OS_PASSWORD"] = "not-it" };
        var denied = await OpenStackCli.RunAsync(wrong, "database", "instance", "list");
        Assert.NotEqual(0, denied.ExitCode);
    }

    [RequiresBinaryFact("openstack")]
    public async Task Catalogue_commands_show_datastores_flavors_and_limits()
    {
        var env = _server.AdminEnvironment;
        var datastores = (await OpenStackCli.JsonAsync(env, "datastore", "list")).AsArray();
        Assert.Contains(datastores, d => d!["Name"]!.GetValue<string>() == "redis");
        var versions = (await OpenStackCli.JsonAsync(env, "datastore", "version", "list", "redis")).AsArray();
        var version = Assert.Single(versions);
        Assert.Matches(@"^\d+\.\d+$", version!["Name"]!.GetValue<string>());
        var flavors = (await OpenStackCli.JsonAsync(env, "database", "flavor", "list")).AsArray();
        Assert.Equal(["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"], flavors.Select(f => f!["Name"]!.GetValue<string>()));
        Assert.Equal(2048, flavors[1]!["RAM"]!.GetValue<int>());
        var limits = await OpenStackCli.RunAsync(env, "database", "limit", "list");
        Assert.True(limits.ExitCode == 0, limits.ToString());
        var trove = await ProcessRunner.RunAsync(Binaries.Require("trove"), ["flavor-list"], env);
        Assert.True(trove.ExitCode == 0, trove.ToString());
        Assert.Contains("m1.small", trove.Stdout, StringComparison.Ordinal);
    }
}
