using Hoard.Abstractions.Storage;
using Hoard.Core.Configuration;
using Hoard.Core.Identity;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Quotas;

/// <summary>One row of Trove's quota show: a resource, what the project holds of it, and its limit (-1: none).</summary>
public sealed record QuotaLine(string Resource, int InUse, int Reserved, int Limit);

/// <summary>
/// Trove's per-project quotas (quota/quota.py, extensions/mgmt/quota): the [DEFAULT] max_*_per_tenant options, overridden
/// per project by an admin. The creates that add to a quota pass <see cref="ForInsert"/> to the store, which reads the
/// project's overrides, counts and inserts atomically; nothing is reserved ahead (Trove's reserved is always 0 here).
/// </summary>
public sealed partial class QuotaService(IManagementStore store, HoardOptions options, ILogger<QuotaService> logger)
{
    /// <summary>
    /// What a create hands its insert: the defaults, with the project's overrides to be read in the insert's own
    /// transaction, so a concurrent update lowering a limit cannot be read stale by a create that commits after it.
    /// </summary>
    public QuotaLimits ForInsert => options.DefaultQuota.WithProjectOverrides();

    /// <summary>Trove's QuotaExceeded: a 413 naming the resources, as a Python list, sorted.</summary>
    public static ApiException Exceeded(IReadOnlyList<string> resources)
    {
        ArgumentNullException.ThrowIfNull(resources);
        return ApiException.OverLimit($"Quota exceeded for resources: [{string.Join(", ", resources.Select(r => $"'{r}'"))}].");
    }

    /// <summary>The project's effective limits now (its overrides, else the defaults), for showing; inserts use <see cref="ForInsert"/>.</summary>
    public async Task<QuotaLimits> LimitsAsync(string projectId, CancellationToken cancellationToken) =>
        options.DefaultQuota.With(await store.Quotas.GetLimitsAsync(projectId, cancellationToken));

    /// <summary>
    /// The project (by id or name) whose quota the caller may read: their own, or any project for an admin. Another
    /// project's is refused before it is looked up, so a member learns nothing about which projects exist.
    /// </summary>
    public async Task<ProjectRecord> ProjectToReadAsync(AuthContext caller, string idOrName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!caller.IsAdmin && idOrName != caller.ProjectId && idOrName != caller.ProjectName)
        {
            // Trove's TroveOperationAuthError (403), naming the caller's own tenant as Trove does.
            throw ApiException.Forbidden($"Operation not allowed for tenant {caller.ProjectId}.");
        }

        return await FindAsync(idOrName, cancellationToken);
    }

    public async Task<IReadOnlyList<QuotaLine>> ShowAsync(string projectId, CancellationToken cancellationToken)
    {
        var usage = await store.Quotas.GetUsageAsync(projectId, cancellationToken);
        var limits = await LimitsAsync(projectId, cancellationToken);
        return [.. QuotaResources.All.Select(r => new QuotaLine(r, usage.Of(r), 0, limits.Of(r) ?? -1))];
    }

    /// <summary>
    /// Sets the project's limits (admin only), checked as Trove's update checks them, in the body's order: a null limit is
    /// skipped, one below -1 is refused, an unknown resource is a 404 — but all are checked before any is written.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, int>> UpdateAsync(AuthContext caller, string idOrName, IReadOnlyList<KeyValuePair<string, int?>> limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(limits);
        if (!caller.IsAdmin)
        {
            throw ApiException.Forbidden("You are not authorized to perform the requested action: the admin role is required.");
        }

        var set = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (resource, limit) in limits)
        {
            if (limit is not { } value || resource == "xmlns")
            {
                continue;
            }

            if (value < -1)
            {
                throw ApiException.BadRequest($"Quota limit '{value}' for '{resource}' is too small - must be at least '-1'.");
            }

            if (!QuotaResources.All.Contains(resource))
            {
                throw ApiException.NotFound($"Unknown quota resources {resource}.");
            }

            set[resource] = value;
        }

        var project = await FindAsync(idOrName, cancellationToken);
        await store.Quotas.SetLimitsAsync(project.Id, set, cancellationToken);
        foreach (var (resource, limit) in set)
        {
            LogQuotaSet(project.Id, resource, limit, caller.UserName);
        }

        return set;
    }

    private async Task<ProjectRecord> FindAsync(string idOrName, CancellationToken cancellationToken) =>
        await store.Identity.GetProjectAsync(idOrName, cancellationToken)
        ?? throw ApiException.NotFound($"Could not find project: {idOrName}.");

    [LoggerMessage(EventId = 3290, Level = LogLevel.Information, Message = "Quota of project {Project} for {Resource} set to {Limit} by {User}")]
    private partial void LogQuotaSet(string project, string resource, int limit, string user);
}
