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
    private long _flavorsLoadedAt;
    private volatile IReadOnlyList<DatastoreRecord> _datastores = [];
    private volatile IReadOnlyList<DatastoreVersionRecord> _versions = [];

    public async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var existing = await store.Flavors.ListAsync(null, null, 0, cancellationToken);
        foreach (var flavor in DefaultFlavors)
        {
            if (existing.All(f => f.Id != flavor.Id))
            {
                await store.Flavors.InsertAsync(flavor, cancellationToken);
            }
        }

        var known = await store.Datastores.ListDatastoreVersionsAsync(null, cancellationToken);
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
            await store.Datastores.UpsertDatastoreAsync(new DatastoreRecord(datastoreId, plugin.Name, latest?.Id), cancellationToken);
            foreach (var version in versions)
            {
                await store.Datastores.UpsertDatastoreVersionAsync(version, cancellationToken);
            }
        }

        await ReloadAsync(cancellationToken);
    }

    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        _flavors = [.. (await store.Flavors.ListAsync(null, null, 0, cancellationToken)).OrderBy(f => NumericOrder(f.Id)).ThenBy(f => f.Id, StringComparer.Ordinal)];
        _flavorsLoadedAt = Environment.TickCount64;
        _datastores = await store.Datastores.ListDatastoresAsync(cancellationToken);
        _versions = await store.Datastores.ListDatastoreVersionsAsync(null, cancellationToken);
    }

    /// <summary>Every flavor, public and private, numeric ids in numeric order first (Nova's 1..5 before the rest).</summary>
    public IReadOnlyList<FlavorRecord> Flavors => _flavors;

    /// <summary>The flavors a project sees: the public ones and its own private ones.</summary>
    public IReadOnlyList<FlavorRecord> FlavorsFor(string projectId) => [.. _flavors.Where(f => f.ProjectId is null || f.ProjectId == projectId)];

    /// <summary>
    /// A flavor a project may use, by id or name; when it is not in memory the flavors are re-read first (at most once a
    /// second), so a flavor another replica just created is found.
    /// </summary>
    public async Task<FlavorRecord?> FindFlavorAsync(string idOrName, string? projectId, CancellationToken cancellationToken)
    {
        var found = FindFlavor(idOrName, projectId);
        if (found is null && Environment.TickCount64 - _flavorsLoadedAt > 1000)
        {
            await ReloadAsync(cancellationToken);
            found = FindFlavor(idOrName, projectId);
        }

        return found;
    }

    /// <summary>A flavor by id or name, among those <paramref name="projectId"/> sees (all when null).</summary>
    public FlavorRecord? FindFlavor(string idOrName, string? projectId)
    {
        var visible = projectId is null ? _flavors : FlavorsFor(projectId);
        return visible.FirstOrDefault(f => f.Id == idOrName) ?? visible.FirstOrDefault(f => f.Name == idOrName);
    }

    public async Task<FlavorRecord> CreateFlavorAsync(FlavorRecord flavor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(flavor);
        await ReloadAsync(cancellationToken);
        if (await store.Flavors.ExistsAsync(flavor.Id, cancellationToken))
        {
            throw ApiException.Conflict($"A flavor with id {flavor.Id} exists.");
        }

        if (_flavors.FirstOrDefault(f => f.Name == flavor.Name) is { } same)
        {
            throw ApiException.Conflict($"A flavor named {flavor.Name} exists (id {same.Id}).");
        }

        flavor = flavor with { ProjectId = await ProjectIdAsync(flavor.ProjectId, cancellationToken) };
        await store.Flavors.InsertAsync(flavor, cancellationToken);
        await ReloadAsync(cancellationToken);
        return flavor;
    }

    public async Task<FlavorRecord> UpdateFlavorAsync(string idOrName, FlavorChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var flavor = await FindFlavorAsync(idOrName, null, cancellationToken) ?? throw ApiException.NotFound($"Flavor {idOrName} cannot be found.");
        if (change.Name is not null && _flavors.FirstOrDefault(f => f.Name == change.Name && f.Id != flavor.Id) is { } same)
        {
            throw ApiException.Conflict($"A flavor named {change.Name} exists (id {same.Id}).");
        }

        if (change.ProjectId is { Length: > 0 })
        {
            change = change with { ProjectId = await ProjectIdAsync(change.ProjectId, cancellationToken) };
        }

        if (!await store.Flavors.UpdateAsync(flavor.Id, change, cancellationToken))
        {
            throw ApiException.NotFound($"Flavor {idOrName} cannot be found.");
        }

        await ReloadAsync(cancellationToken);
        return _flavors.First(f => f.Id == flavor.Id);
    }

    /// <summary>Deletes a flavor; its pools then host flavors without pools. Instances of the flavor keep running.</summary>
    public async Task DeleteFlavorAsync(string idOrName, CancellationToken cancellationToken)
    {
        var flavor = await FindFlavorAsync(idOrName, null, cancellationToken) ?? throw ApiException.NotFound($"Flavor {idOrName} cannot be found.");
        if (!await store.Flavors.DeleteAsync(flavor.Id, cancellationToken))
        {
            throw ApiException.NotFound($"Flavor {idOrName} cannot be found.");
        }

        await ReloadAsync(cancellationToken);
    }

    /// <summary>The id of a private flavor's project, named by id or name.</summary>
    private async Task<string?> ProjectIdAsync(string? idOrName, CancellationToken cancellationToken) =>
        idOrName is null
            ? null
            : (await store.Identity.GetProjectAsync(idOrName, cancellationToken))?.Id
                ?? throw ApiException.BadRequest($"Validation error: flavor['project'] '{idOrName}' is not a project.");

    /// <summary>Numeric ids by their value, before any other.</summary>
    private static long NumericOrder(string id) => long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue;

    public IReadOnlyList<DatastoreRecord> Datastores => _datastores;


    public DatastoreRecord? FindDatastore(string idOrName) =>
        _datastores.FirstOrDefault(d => d.Id == idOrName) ?? _datastores.FirstOrDefault(d => d.Name == idOrName);

    public IReadOnlyList<DatastoreVersionRecord> VersionsOf(DatastoreRecord datastore) =>
        [.. _versions.Where(v => v.DatastoreId == datastore.Id)];

    public DatastoreVersionRecord? FindVersion(DatastoreRecord datastore, string idOrName) =>
        VersionsOf(datastore).FirstOrDefault(v => v.Id == idOrName) ?? VersionsOf(datastore).FirstOrDefault(v => v.Name == idOrName);

    /// <summary>The datastore a request names, or the only one with a default version: Trove's rules and messages.</summary>
    public DatastoreRecord ResolveDatastore(string? type)
    {
        if (type is null)
        {
            var only = Datastores.Where(d => d.DefaultVersionId is not null).ToList();
            return only.Count == 1
                ? only[0]
                : throw ApiException.BadRequest("Please specify datastore. No default datastore is defined.");
        }

        return FindDatastore(type) ?? throw ApiException.NotFound($"Datastore '{type}' cannot be found.");
    }

    /// <summary>The active version a request names, or the datastore's default.</summary>
    public DatastoreVersionRecord ResolveVersion(DatastoreRecord datastore, string? name)
    {
        if (name is null)
        {
            var defaultVersion = datastore.DefaultVersionId is null ? null : FindVersion(datastore, datastore.DefaultVersionId);
            return defaultVersion ?? throw ApiException.BadRequest($"Default version for datastore '{datastore.Name}' not found.");
        }

        var version = FindVersion(datastore, name) ?? throw ApiException.BadRequest($"Datastore version '{name}' cannot be found.");
        return version.Active ? version : throw ApiException.BadRequest($"Datastore version '{name}' is not active.");
    }

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
