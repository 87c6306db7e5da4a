using System.Globalization;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.PostgreSql.Tests.Support;

/// <summary>The real psql of the instance's version, over TCP, the password in PGPASSWORD (never on the command line).</summary>
internal static class Psql
{
    public static string PathFor(GuestInstance instance) =>
        Path.Combine(PostgreSqlInstallation.DefaultRoot, instance.Version, "bin", "psql");

    /// <summary>Runs <paramref name="sql"/> as <paramref name="user"/>; unaligned, tuples only, stops at the first error.</summary>
    public static Task<ProcessResult> RunAsync(GuestInstance instance, string user, string password, string? database, string sql) =>
        ProcessRunner.RunAsync(
            PathFor(instance),
            [
                "-h", instance.Address,
                "-p", instance.Port.ToString(CultureInfo.InvariantCulture),
                "-U", user,
                "-d", database ?? "postgres",
                "-w", "-X", "-A", "-t", "-q",
                "-v", "ON_ERROR_STOP=1",
                "-c", sql,
            ],
            new Dictionary<string, string>
            {
                ["PGPASSWORD"] = password,
                ["PGPASSFILE"] = "/dev/null",
                ["PGCONNECT_TIMEOUT"] = "5",
                ["PGSSLMODE"] = "disable",
            },
            Timeouts.Short);

    /// <summary>True when <paramref name="user"/> logs in and runs SELECT 1.</summary>
    public static async Task<bool> CanLoginAsync(GuestInstance instance, string user, string password, string? database)
    {
        var result = await RunAsync(instance, user, password, database, "SELECT 1");
        return result.ExitCode == 0 && result.Stdout.Trim() == "1";
    }
}
