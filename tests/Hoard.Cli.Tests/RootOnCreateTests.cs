using Hoard.Testing;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>[postgresql] root_on_create: the create response carries root's password, once, and it logs in.</summary>
public sealed class RootOnCreateTests : IAsyncLifetime
{
    private HoardServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_POSTGRESQL_ROOT_ON_CREATE"] = "true" });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [RequiresBinaryFact("openstack", "psql", "/usr/lib/postgresql/15/bin/postgres")]
    public async Task Root_is_enabled_at_create_and_its_password_is_shown_once()
    {
        var env = _server.AdminEnvironment;
        var created = await OpenStackCli.JsonAsync(env, "database", "instance", "create", "pgroot", "--flavor", "1", "--datastore", "postgresql");
        var password = created["password"]?.GetValue<string>();
        Assert.False(string.IsNullOrEmpty(password), $"the create response carries root's password: {created.ToJsonString()}");

        var shown = await Timeouts.EventuallyAsync(
            () => OpenStackCli.JsonAsync(env, "database", "instance", "show", "pgroot"),
            s => s["status"]!.GetValue<string>() is "ACTIVE" or "ERROR",
            Timeouts.Settle,
            "pgroot to become ACTIVE");
        Assert.Equal("ACTIVE", shown["status"]!.GetValue<string>());
        Assert.Null(shown["password"]);
        var address = shown["addresses"]!.AsArray()[0]!["address"]!.GetValue<string>();

        Assert.True(await EngineClients.CanLoginAsync("postgresql", address, 5432, "root", password!));
        var superuser = await EngineClients.RunAsync("postgresql", address, 5432, "root", password!, null, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
        Assert.Equal("t", superuser.Stdout.Trim());
        Assert.True((await OpenStackCli.JsonAsync(env, "database", "root", "show", "pgroot"))["is_root_enabled"]!.GetValue<bool>());
        Assert.DoesNotContain(password!, _server.ReadLog() + _server.ReadAgentLog(), StringComparison.Ordinal);
    }
}
