using System.CommandLine;
using Hoard.Abstractions.IO;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Hoard.Api.Hosting;
using Hoard.Core.Configuration;
using Hoard.Core.Identity;
using Microsoft.Extensions.Hosting;

namespace Hoard.Cli.Commands;

/// <summary>`hoard serve`: the control plane in the foreground.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var listen = new Option<string?>("--listen") { Description = "HOST:PORT to listen on (default 127.0.0.1:8779)." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Where Hoard keeps its state (default ~/.hoard; /var/lib/hoard as root)." };
        var config = new Option<string?>("--config") { Description = "An INI configuration file ('hoard config sample' shows every option)." };
        var store = new Option<string?>("--store") { Description = "Management store connection string (default sqlite:///<data-dir>/hoard.db)." };
        var profilerConnection = new Option<string?>("--profiler-connection-string") { Description = "Trace backend ([profiler] connection_string, e.g. redis://127.0.0.1:6379/0); turns profiling on." };
        var profilerKeys = new Option<string?>("--profiler-hmac-keys") { Description = "Comma-separated HMAC keys a trace header may be signed with ([profiler] hmac_keys); turns profiling on." };
        var command = new Command("serve", "Run the Hoard control plane in the foreground.") { listen, dataDir, config, store, profilerConnection, profilerKeys };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var plugins = PluginRegistry.FromApplicationDirectory();
                var configuration = HoardConfiguration.Load(
                    parse.GetValue(config),
                    Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal),
                    HoardConfiguration.DatastoreGroups(plugins));
                if (parse.GetValue(listen) is { } l) configuration.Set("DEFAULT", "listen", l, "--listen");
                if (parse.GetValue(dataDir) is { } d) configuration.Set("DEFAULT", "data_dir", d, "--data-dir");
                if (parse.GetValue(store) is { } s) configuration.Set("database", "connection", s, "--store");
                if (parse.GetValue(profilerConnection) is { } pc) configuration.Set(ProfilerOptions.Section, "connection_string", pc, "--profiler-connection-string");
                if (parse.GetValue(profilerKeys) is { } pk) configuration.Set(ProfilerOptions.Section, "hmac_keys", pk, "--profiler-hmac-keys");
                if (parse.GetValue(profilerConnection) is not null || parse.GetValue(profilerKeys) is not null)
                {
                    configuration.Set(ProfilerOptions.Section, "enabled", "true", "--profiler-*");
                }

                var options = HoardOptions.From(configuration);
                return await RunAsync(options, plugins, cancellationToken);
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync($"hoard: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(HoardOptions options, PluginRegistry plugins, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.DataDir);
        var storeUri = new Uri(options.StoreConnection);
        IManagementStore store;
        try
        {
            store = plugins.Get<IManagementStoreFactory>(PluginKind.Store, storeUri.Scheme).Open(storeUri);
        }
        catch (KeyNotFoundException e)
        {
            throw new ConfigurationException($"[database] connection '{storeUri.Scheme}://...': {e.Message}");
        }

        await using (store)
        {
            var givenPassword = Environment.GetEnvironmentVariable("HOARD_ADMIN_PASSWORD");
            var password = string.IsNullOrEmpty(givenPassword) ? Secrets.Generate() : givenPassword;
            var app = HoardServer.Build(options, store, plugins);
            var created = await HoardServer.InitializeAsync(app, password, cancellationToken);
            var openrc = Path.Combine(options.DataDir, "admin-openrc");
            if (created || (!string.IsNullOrEmpty(givenPassword) && await AdminPasswordMatchesAsync(store, givenPassword, cancellationToken)))
            {
                WriteOpenRc(openrc, options, password);
            }

            await app.StartAsync(cancellationToken);
            Console.WriteLine($"""
                Hoard is listening on {options.PublicUrl} (data in {options.DataDir}).
                {(created ? $"Created the admin user; its password is in {openrc}." : $"Credentials: {openrc}")}
                Use it with the stock clients or with ./hoard:
                    . {openrc}
                    openstack database instance create db1 --flavor 2 --datastore redis
                    ./hoard instance list
                """);
            await app.WaitForShutdownAsync(cancellationToken);
        }

        return 0;
    }

    private static async Task<bool> AdminPasswordMatchesAsync(IManagementStore store, string password, CancellationToken cancellationToken) =>
        await store.Identity.GetUserAsync("admin", cancellationToken) is { } admin && PasswordHasher.Verify(password, admin.PasswordHash);

    private static void WriteOpenRc(string path, HoardOptions options, string password)
    {
        var text = $"""
            # Credentials for Hoard's admin, for the openstack/trove clients and ./hoard. Keep this file private.
            export OS_AUTH_URL={options.PublicUrl}/identity/v3
            export OS_IDENTITY_API_VERSION=3
            export OS_AUTH_TYPE=password
            export OS_USERNAME=admin
            export OS_PASSWORD='{password}'
            export OS_PROJECT_NAME=admin
            export OS_USER_DOMAIN_NAME=Default
            export OS_PROJECT_DOMAIN_NAME=Default
            export OS_REGION_NAME={options.Region}

            """;
        PrivateFile.Write(path, text);
    }
}
