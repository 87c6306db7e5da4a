using System.Globalization;

namespace Hoard.Datastores.MariaDb.Tests.Support;

/// <summary>The stock <c>mariadb</c> command-line client, as a user of an instance would run it.</summary>
internal static class MariaDbClient
{
    /// <summary>
    /// Logs in over TCP (never a socket) and runs <paramref name="sql"/>. The password goes through MYSQL_PWD,
    /// never the command line; --no-defaults keeps any ~/.my.cnf or /etc/mysql option out of it.
    /// </summary>
    public static Task<ProcessResult> RunAsync(string address, int port, string user, string password, string? database, string sql)
    {
        List<string> arguments =
        [
            "--no-defaults",
            "--protocol=TCP",
            "-h", address,
            "-P", port.ToString(CultureInfo.InvariantCulture),
            "-u", user,
            "--connect-timeout=10",
            "--batch",
            "--skip-column-names",
            "-e", sql,
        ];
        if (database is not null)
        {
            arguments.Add(database);
        }

        return ProcessRunner.RunAsync(
            Binaries.Require("mariadb"),
            arguments,
            new Dictionary<string, string> { ["MYSQL_PWD"] = password },
            Timeouts.Cli);
    }

    public static async Task<bool> CanLoginAsync(string address, int port, string user, string password, string? database) =>
        (await RunAsync(address, port, user, password, database, "SELECT 1")).ExitCode == 0;
}
