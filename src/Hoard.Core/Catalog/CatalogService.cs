using System.Security.Cryptography;
using System.Text;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;


namespace Hoard.Core.Catalog;

/// <summary>A datastore version with its datastore, as the API shows it.</summary>
public sealed record DatastoreVersionView(DatastoreRecord Datastore, DatastoreVersionRecord Version);

/// <summary>
/// What can be asked for: flavors and datastores. Registered at start (Nova's default flavors, and every
/// datastore plugin's installed versions) and held in memory, since every create and every view reads them.
/// </summary>
public sealed class CatalogService(IManagementStore store, PluginRegistry plugins)
{
    private static readonly FlavorRecord[] DefaultFlavors =
    [
        new("1", "m1.tiny", 512, 1, 1),
        new("2", "m1.small", 2048, 1, 20),
        new("3", "m1.medium", 4096, 2, 40),
        new("4", "m1.large", 8192, 4, 80),
        new("5", "m1.xlarge", 16384, 8, 160),
    ];

    private volatile IReadOnlyList<FlavorRecord> _flavors = [];
    private volatile IReadOnlyList<DatastoreRecord> _datastores = [];
    private volatile IReadOnlyList<DatastoreVersionRecord> _versions = [];

    public async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var existing = await store.Catalog.ListFlavorsAsync(cancellationToken);
        foreach (var flavor in DefaultFlavors)
        {
            if (existing.All(f => f.Id != flavor.Id))
            {
                await store.Catalog.UpsertFlavorAsync(flavor, cancellationToken);
            }
        }

        var known = await store.Catalog.ListDatastoreVersionsAsync(null, cancellationToken);
        foreach (var plugin in plugins.All<IDatastorePlugin>(PluginKind.Datastore))
        {
            var installed = plugin.DiscoverVersions();
            var datastoreId = StableId("datastore", plugin.Name);
            var versions = installed.Select(v => new DatastoreVersionRecord(StableId("datastore-version", plugin.Name, v.Name), datastoreId, v.Name, v.Version, true)).ToList();

            // Versions registered earlier but no longer installed stay (instances refer to them) but go inactive.
            foreach (var old in known.Where(k => k.DatastoreId == datastoreId && versions.All(v => v.Id != k.Id)))
            {
                versions.Add(old with { Active = false });
            }

            if (versions.Count == 0)
            {
                continue;
            }

            var latest = versions.Where(v => v.Active).OrderByDescending(v => Version.TryParse(v.Name, out var parsed) ? parsed : new Version(0, 0)).FirstOrDefault();
            await store.Catalog.UpsertDatastoreAsync(new DatastoreRecord(datastoreId, plugin.Name, latest?.Id), cancellationToken);
            foreach (var version in versions)
            {
                await store.Catalog.UpsertDatastoreVersionAsync(version, cancellationToken);
            }
        }

        await ReloadAsync(cancellationToken);
    }

    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        _flavors = await store.Catalog.ListFlavorsAsync(cancellationToken);
        _datastores = await store.Catalog.ListDatastoresAsync(cancellationToken);
        _versions = await store.Catalog.ListDatastoreVersionsAsync(null, cancellationToken);
    }

    public IReadOnlyList<FlavorRecord> Flavors => _flavors;

    public IReadOnlyList<DatastoreRecord> Datastores => _datastores;

    public FlavorRecord? FindFlavor(string idOrName) =>
        _flavors.FirstOrDefault(f => f.Id == idOrName) ?? _flavors.FirstOrDefault(f => f.Name == idOrName);

    public DatastoreRecord? FindDatastore(string idOrName) =>
        _datastores.FirstOrDefault(d => d.Id == idOrName) ?? _datastores.FirstOrDefault(d => d.Name == idOrName);

    public IReadOnlyList<DatastoreVersionRecord> VersionsOf(DatastoreRecord datastore) =>
        [.. _versions.Where(v => v.DatastoreId == datastore.Id)];

    public DatastoreVersionRecord? FindVersion(DatastoreRecord datastore, string idOrName) =>
        VersionsOf(datastore).FirstOrDefault(v => v.Id == idOrName) ?? VersionsOf(datastore).FirstOrDefault(v => v.Name == idOrName);

    public DatastoreVersionView? FindVersionById(string versionId)
    {
        var version = _versions.FirstOrDefault(v => v.Id == versionId);
        var datastore = version is null ? null : _datastores.FirstOrDefault(d => d.Id == version.DatastoreId);
        return version is null || datastore is null ? null : new DatastoreVersionView(datastore, version);
    }

    /// <summary>A UUID derived from names, so a datastore keeps its id across restarts and machines.</summary>
    public static string StableId(params string[] parts)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts)));
        bytes[6] = (byte)((bytes[6] & 0x0f) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3f) | 0x80);
        return new Guid(bytes.AsSpan(0, 16), bigEndian: true).ToString();
    }
}
