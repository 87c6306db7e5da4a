namespace Hoard.Datastores.MariaDb.Tests.Support;

/// <summary>The stock <c>mariadb</c> client against an instance, over TCP, through <see cref="EngineClients"/>.</summary>
internal static class MariaDbClient
{
    public static Task<ProcessResult> RunAsync(string address, int port, string user, string password, string? database, string sql) =>
        EngineClients.RunAsync("mariadb", address, port, user, password, database, sql);

    public static Task<bool> CanLoginAsync(string address, int port, string user, string password, string? database) =>
        EngineClients.CanLoginAsync("mariadb", address, port, user, password, database);
}
