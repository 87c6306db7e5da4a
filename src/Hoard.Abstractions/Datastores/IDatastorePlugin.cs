using Microsoft.Extensions.Logging;

namespace Hoard.Abstractions.Datastores;

/// <summary>One installed version of an engine, found on this machine.</summary>
/// <param name="Name">The version name clients use: the engine's major.minor, e.g. "7.0".</param>
/// <param name="Version">The full version the engine reports, e.g. "7.0.15".</param>
public sealed record DatastoreVersionInfo(string Name, string Version);

/// <summary>
/// Server-side options of a datastore, Trove's names (trove/common/cfg.py, one group per datastore).
/// </summary>
public sealed record DatastoreServerOptions
{
    public required IReadOnlyList<int> TcpPorts { get; init; }

    public IReadOnlyList<int> UdpPorts { get; init; } = [];

    public bool RootOnCreate { get; init; }

    /// <summary>Seconds a create may take before the instance goes to ERROR.</summary>
    public int UsageTimeout { get; init; } = 60;

    public bool VolumeSupport { get; init; }

    public string? BackupStrategy { get; init; }
}

/// <summary>
/// A datastore engine. The server side describes it (versions, ports, option defaults);
/// the guest side creates the manager that runs it.
/// </summary>
public interface IDatastorePlugin
{
    /// <summary>The datastore type clients ask for, e.g. "redis".</summary>
    string Name { get; }

    DatastoreServerOptions ServerOptions { get; }

    /// <summary>The versions of the engine installed here; empty when it is not installed.</summary>
    IReadOnlyList<DatastoreVersionInfo> DiscoverVersions();

    /// <summary>Guest side: the manager that prepares and runs instances of this engine.</summary>
    IDatastoreManager CreateManager(ILoggerFactory loggerFactory);
}
