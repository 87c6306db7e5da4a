using System.Globalization;

namespace Hoard.Testing;

/// <summary>
/// Logs in to an instance with the engine's own command-line client (redis-cli, psql, mariadb) over TCP, the way
/// a user would. Passwords go through the clients' environment variables, never on a command line.
/// </summary>
public static class EngineClients
{
    /// <summary>Runs <paramref name="command"/> as <paramref name="user"/>; the result's Stdout is the client's output.</summary>
    public static Task<ProcessResult> RunAsync(string datastore, string address, int port, string user, string password, string? database, string command)
    {
        var portText = port.ToString(CultureInfo.InvariantCulture);
        return datastore switch
        {
            "redis" => ProcessRunner.RunAsync(
                Binaries.Require("redis-cli"),
                ["-h", address, "-p", portText, "--user", user, .. command.Split(' ')],
                new Dictionary<string, string> { ["REDISCLI_AUTH"] = password },
                Timeouts.Short),
            "postgresql" => ProcessRunner.RunAsync(
                Binaries.Require("psql"),
                ["-h", address, "-p", portText, "-U", user, "-d", database ?? "postgres", "-w", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", command],
                new Dictionary<string, string> { ["PGPASSWORD"] = password, ["PGPASSFILE"] = "/dev/null", ["PGCONNECT_TIMEOUT"] = "5", ["PGSSLMODE"] = "disable" },
                Timeouts.Short),
            "mariadb" => ProcessRunner.RunAsync(
                Binaries.Require("mariadb"),
                // --no-defaults keeps ~/.my.cnf and /etc/mysql out of it.
                ["--no-defaults", "--protocol=TCP", "-h", address, "-P", portText, "-u", user, "--batch", "--skip-column-names", "--connect-timeout=5", .. database is null ? Array.Empty<string>() : [database], "-e", command],
                new Dictionary<string, string> { ["MYSQL_PWD"] = password },
                Timeouts.Short),
            _ => throw new ArgumentException($"no client known for datastore {datastore}", nameof(datastore)),
        };
    }

    /// <summary>True when the user logs in (into the database, when given) and a trivial command works.</summary>
    public static async Task<bool> CanLoginAsync(string datastore, string address, int port, string user, string password, string? database = null)
    {
        var result = await RunAsync(datastore, address, port, user, password, database, datastore == "redis" ? "PING" : "SELECT 1");
        return result.ExitCode == 0 && result.Stdout.Trim() is "PONG" or "1";
    }
}
