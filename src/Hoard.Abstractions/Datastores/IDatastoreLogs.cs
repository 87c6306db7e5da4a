namespace Hoard.Abstractions.Datastores;

/// <summary>Trove's log types: a SYS log is always written; a USER log is off until a user enables it.</summary>
public enum DatastoreLogType
{
    Sys,
    User,
}

/// <summary>One log a datastore exposes: its name (as users call it), its type and the file on the guest that holds it.</summary>
public sealed record DatastoreLogDefinition(string Name, DatastoreLogType Type, string File);

/// <summary>
/// A datastore manager's logs (Trove's guest_log_list and guest_log_action): the engine's server log and its slow-query
/// log. The agent reads the files; the manager says where they are, switches USER logs and brings a log's file up to
/// date where the engine keeps the log elsewhere (Redis' SLOWLOG lives in memory).
/// </summary>
public interface IDatastoreLogs
{
    /// <summary>The logs of the instance, SYS first.</summary>
    IReadOnlyList<DatastoreLogDefinition> LogDefinitions(GuestInstance instance);

    /// <summary>Whether a USER log is on (SYS logs always are).</summary>
    Task<bool> IsLogEnabledAsync(GuestInstance instance, string name, CancellationToken cancellationToken);

    /// <summary>Turns a USER log on or off, at once on the running server and so that a restart keeps it.</summary>
    Task SetLogEnabledAsync(GuestInstance instance, string name, bool enabled, CancellationToken cancellationToken);

    /// <summary>Appends to the log's file what the engine logged since the last call, where the engine does not write the file itself.</summary>
    Task FlushLogAsync(GuestInstance instance, string name, CancellationToken cancellationToken);
}

/// <summary>The log names the datastores share.</summary>
public static class DatastoreLogNames
{
    /// <summary>The engine's own server log (SYS).</summary>
    public const string Server = "server";

    /// <summary>Statements slower than the threshold (USER), Trove's name.</summary>
    public const string SlowQuery = "slow_query";
}
