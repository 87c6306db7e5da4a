using Microsoft.Extensions.Logging;

namespace Hoard.Abstractions.Datastores;

/// <summary>One installed version of an engine, found on this machine.</summary>
/// <param name="Name">The version name clients use: the engine's major.minor (or major, as PostgreSQL numbers them), e.g. "7.0", "15".</param>
/// <param name="Version">The full version the engine reports, e.g. "7.0.15".</param>
public sealed record DatastoreVersionInfo(string Name, string Version);

/// <summary>
/// A datastore engine, declared by its assembly with <c>[assembly: HoardPlugin("name", PluginKind.Datastore, typeof(...))]</c>.
/// The server side describes it (its option group, versions, schema rules); the guest side creates the manager
/// that runs it, and only on an agent that runs an instance of it.
/// </summary>
public interface IDatastorePlugin
{
    /// <summary>The datastore type clients ask for, and the name of its INI group, e.g. "redis".</summary>
    string Name { get; }

    /// <summary>The options of the datastore's INI group, server side and guest side, with their defaults.</summary>
    IReadOnlyList<DatastoreOption> Options { get; }

    /// <summary>Databases, users and the names they may have on this engine.</summary>
    SchemaRules Schema { get; }

    /// <summary>
    /// Whether its managers take incremental backups (<see cref="IIncrementalBackups"/>), so the control plane can
    /// refuse an incremental backup of an engine without them before a guest is asked.
    /// </summary>
    bool IncrementalBackups => false;

    /// <summary>The versions of the engine installed here; empty when it is not installed.</summary>
    IReadOnlyList<DatastoreVersionInfo> DiscoverVersions();

    /// <summary>Guest side: the manager that prepares and runs instances of this engine.</summary>
    IDatastoreManager CreateManager(ILoggerFactory loggerFactory);
}
