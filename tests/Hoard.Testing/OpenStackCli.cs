using System.Text.Json.Nodes;

namespace Hoard.Testing;

/// <summary>Runs the stock `openstack` client (Debian's python3-openstackclient and python3-troveclient), unmodified.</summary>
public static class OpenStackCli
{
    public static async Task<ProcessResult> RunAsync(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var all = new Dictionary<string, string>(env) { ["PYTHONWARNINGS"] = "ignore" };
        return await ProcessRunner.RunAsync(Binaries.Require("openstack"), args, all, Timeouts.Cli);
    }

    /// <summary>Runs a command that prints nothing to parse; fails the test with the output when it fails.</summary>
    public static async Task RunOkAsync(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var result = await RunAsync(env, args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"openstack {string.Join(' ', args)} failed: {result}");
        }
    }

    /// <summary>Runs a command with -f json and parses what it printed; fails the test with the output when it fails.</summary>
    public static async Task<JsonNode> JsonAsync(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var result = await RunAsync(env, [.. args, "-f", "json"]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"openstack {string.Join(' ', args)} failed: {result}");
        }

        return JsonNode.Parse(result.Stdout) ?? throw new InvalidOperationException($"openstack {string.Join(' ', args)} printed no JSON: {result}");
    }
}
