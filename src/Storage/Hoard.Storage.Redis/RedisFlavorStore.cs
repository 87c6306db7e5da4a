using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>
/// Flavors as the seed lays them out: a hash <c>flavor:{id}</c> (f name, p project, c capabilities, plus Trove's id and
/// sizes), indexed in <c>flavors</c> and, when private, <c>project-flavors:{project}</c>.
/// </summary>
internal sealed class RedisFlavorStore(RedisDb db) : IFlavorStore
{
    private RedisKeys Keys => db.Keys;

    public Task InsertAsync(FlavorRecord flavor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(flavor);
        var rec = Arg(
            ("id", flavor.Id), ("f", flavor.Name), ("p", string.IsNullOrEmpty(flavor.ProjectId) ? null : flavor.ProjectId),
            ("c", flavor.Capabilities), ("ram", Int(flavor.RamMb)), ("vcpus", Int(flavor.Vcpus)), ("disk", Int(flavor.DiskGb)));
        return db.RunAsync(RedisScripts.WriteFlavor, Arg(("rec", rec)), cancellationToken);
    }

    public async Task<FlavorRecord?> GetAsync(string id, CancellationToken cancellationToken)
    {
        var h = await db.GetAsync(Keys.Key("flavor", id), cancellationToken);
        return h is null ? null : Flavor(h);
    }

    public async Task<bool> ExistsAsync(string id, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return await db.Database.KeyExistsAsync(Keys.Key("flavor", id));
    }

    public async Task<bool> UpdateAsync(string id, FlavorChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        var set = Arg(
            ("f", change.Name), ("ram", Int(change.RamMb)), ("vcpus", Int(change.Vcpus)), ("disk", Int(change.DiskGb)),
            ("c", change.Capabilities), ("p", string.IsNullOrEmpty(change.ProjectId) ? null : change.ProjectId));
        string[] unset = change.ProjectId is "" ? ["p"] : [];
        return await db.RunAsync(RedisScripts.WriteFlavor, Arg(("id", id), ("set", set), ("unset", unset)), cancellationToken) > 0;
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken) =>
        await db.RunAsync(RedisScripts.DeleteFlavor, Arg(("id", id)), cancellationToken) > 0;

    public async Task<IReadOnlyList<FlavorRecord>> ListAsync(string? projectId, string? marker, int limit, CancellationToken cancellationToken)
    {
        var index = projectId is null ? Keys.Key("flavors") : Keys.Key("project-flavors", projectId);
        var rows = await db.PageAsync(index, marker is null ? null : Keys.Key("flavor", marker), limit, cancellationToken);
        return [.. rows.Select(Flavor)];
    }

    /// <summary>
    /// Takes every flavor off its pools (one script per <c>flavor-pools</c> index), then unlinks the flavors' hashes and
    /// indexes. Not atomic as a whole: it is for tests and a reset, like Zaqar's drop_all.
    /// </summary>
    public async Task DropAllAsync(CancellationToken cancellationToken)
    {
        var indexPrefix = Keys.Key("flavor-pools", string.Empty);
        var indexes = await db.ScanAsync("flavor-pools:*", cancellationToken);
        await Task.WhenAll(indexes.Select(index =>
            db.RunAsync(RedisScripts.DetachFlavorPools, Arg(("id", RedisKeys.Unescape(index[indexPrefix.Length..]))), cancellationToken)));

        await db.UnlinkMatchingAsync("flavor:*", cancellationToken);
        await db.UnlinkMatchingAsync("project-flavors:*", cancellationToken);
        await db.Database.KeyDeleteAsync(Keys.Key("flavors"));
    }

    private static FlavorRecord Flavor(Dictionary<string, string> h) =>
        new(h["id"], h["f"], IntOf(h, "ram"), IntOf(h, "vcpus"), IntOf(h, "disk"))
        {
            ProjectId = StringOrNull(h, "p"),
            Capabilities = h.GetValueOrDefault("c", "{}"),
        };
}
