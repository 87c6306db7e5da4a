using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.PostgreSql.Tests.Support;

/// <summary>psql against an instance, over TCP, through <see cref="EngineClients"/>.</summary>
internal static class Psql
{
    /// <summary>Runs <paramref name="sql"/> as <paramref name="user"/>; unaligned, tuples only, stops at the first error.</summary>
    public static Task<ProcessResult> RunAsync(GuestInstance instance, string user, string password, string? database, string sql) =>
        EngineClients.RunAsync("postgresql", instance.Address, instance.Port, user, password, database, sql);

    /// <summary>True when <paramref name="user"/> logs in and runs SELECT 1.</summary>
    public static Task<bool> CanLoginAsync(GuestInstance instance, string user, string password, string? database) =>
        EngineClients.CanLoginAsync("postgresql", instance.Address, instance.Port, user, password, database);
}
