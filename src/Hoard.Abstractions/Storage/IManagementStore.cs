namespace Hoard.Abstractions.Storage;

/// <summary>
/// The control plane's state. One interface, several backends chosen by connection string;
/// every backend passes the conformance suite in tests/Hoard.Conformance.
/// </summary>
public interface IManagementStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the schema to the latest version.</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Whether <paramref name="error"/> means the store could not be reached or did not answer in time (the request
    /// may be retried once it is back: the API answers 503), rather than a refusal or a bug.
    /// </summary>
    bool IsUnavailable(Exception error);

    IIdentityStore Identity { get; }

    IInstanceStore Instances { get; }

    ITaskStore Tasks { get; }

    IDatastoreStore Datastores { get; }

    IFlavorStore Flavors { get; }

    IPoolStore Pools { get; }

    ICatalogueStore Catalogue { get; }

    IBackupStore Backups { get; }

    IConfigurationStore Configurations { get; }

    IBackupScheduleStore BackupSchedules { get; }

    IClusterStore Clusters { get; }

    IQuotaStore Quotas { get; }
}

public interface IIdentityStore
{
    Task<ProjectRecord?> GetProjectAsync(string idOrName, CancellationToken cancellationToken);

    Task<IReadOnlyList<ProjectRecord>> ListProjectsAsync(string? name, CancellationToken cancellationToken);

    /// <summary>Inserts a project; false when a project of that name exists in the domain.</summary>
    Task<bool> InsertProjectAsync(ProjectRecord project, CancellationToken cancellationToken);

    Task<bool> DeleteProjectAsync(string id, CancellationToken cancellationToken);

    Task<UserRecord?> GetUserAsync(string idOrName, CancellationToken cancellationToken);

    Task<IReadOnlyList<UserRecord>> ListUsersAsync(string? name, CancellationToken cancellationToken);

    Task<bool> InsertUserAsync(UserRecord user, CancellationToken cancellationToken);

    Task<bool> DeleteUserAsync(string id, CancellationToken cancellationToken);

    Task<RoleRecord?> GetRoleAsync(string idOrName, CancellationToken cancellationToken);

    Task<IReadOnlyList<RoleRecord>> ListRolesAsync(string? name, CancellationToken cancellationToken);

    Task<bool> InsertRoleAsync(RoleRecord role, CancellationToken cancellationToken);

    Task AssignRoleAsync(RoleAssignment assignment, CancellationToken cancellationToken);

    Task<bool> UnassignRoleAsync(RoleAssignment assignment, CancellationToken cancellationToken);

    Task<IReadOnlyList<RoleRecord>> ListRolesForAsync(string projectId, string userId, CancellationToken cancellationToken);

    Task<IReadOnlyList<RoleAssignment>> ListAssignmentsAsync(string? projectId, string? userId, CancellationToken cancellationToken);

    Task InsertTokenAsync(TokenRecord token, CancellationToken cancellationToken);

    Task<TokenRecord?> GetTokenAsync(string tokenHash, CancellationToken cancellationToken);

    Task<bool> DeleteTokenAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>Removes expired tokens; returns how many.</summary>
    Task<int> PurgeExpiredTokensAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

public interface IInstanceStore
{
    /// <summary>
    /// Inserts the instance, the task that builds it and its catalogue entry (project, instance → pool) in one transaction.
    /// </summary>
    /// <returns>
    /// False, and nothing written, when <paramref name="poolCapacity"/> is given and the instance's pool already hosts that
    /// many instances (catalogue entries): the capacity check and the insert cannot interleave with another create's.
    /// </returns>
    async Task<bool> InsertWithTaskAsync(InstanceRecord instance, TaskRecord task, int? poolCapacity, CancellationToken cancellationToken) =>
        (await InsertWithTaskAsync(instance, task, poolCapacity, QuotaLimits.None, cancellationToken)).Inserted;

    /// <summary>
    /// Inserts as the overload without a quota does, unless the pool is full (<see cref="QuotaInsert.Refused"/>) or the
    /// instance would take its project over <paramref name="quota"/>'s instances, volumes or ram
    /// (<see cref="QuotaInsert.Over"/>, naming them): the project's usage (<see cref="QuotaUsage"/>) is counted in the
    /// same transaction as the insert, so concurrent creates of one project never exceed its quota together; given
    /// <see cref="QuotaLimits.ProjectOverrides"/>, the project's overrides are read in that transaction too.
    /// </summary>
    Task<QuotaInsert> InsertWithTaskAsync(InstanceRecord instance, TaskRecord task, int? poolCapacity, QuotaLimits quota, CancellationToken cancellationToken);

    Task<InstanceRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Live instances of a project (all projects when null), oldest first, starting after
    /// <paramref name="marker"/>; at most <paramref name="limit"/>.
    /// </summary>
    /// <remarks>Cluster members are listed only when <paramref name="includeClustered"/> (Trove's include_clustered).</remarks>
    Task<IReadOnlyList<InstanceRecord>> ListAsync(string? projectId, string? marker, int limit, bool includeClustered, CancellationToken cancellationToken);

    /// <summary>
    /// Applies a partial update; false when the instance does not exist. Marking it deleted also removes its catalogue
    /// entry, in the same write.
    /// </summary>
    Task<bool> UpdateAsync(string id, InstanceChange change, CancellationToken cancellationToken);

    /// <summary>Applies a partial update only while the instance's task is <paramref name="expectedTask"/> (a delete removes its catalogue entry too).</summary>
    Task<bool> UpdateIfTaskAsync(string id, string expectedTask, InstanceChange change, CancellationToken cancellationToken);

    /// <summary>Addresses held by live instances of a pool.</summary>
    Task<IReadOnlyList<string>> ListAddressesAsync(string pool, CancellationToken cancellationToken);

    /// <summary>Sets the instance's address; false when another live instance of the pool holds it.</summary>
    Task<bool> TryAssignAddressAsync(string id, string pool, string address, int port, CancellationToken cancellationToken);

    /// <summary>Counts live instances per project (all when null).</summary>
    Task<int> CountAsync(string? projectId, CancellationToken cancellationToken);
}

public interface ITaskStore
{
    /// <summary>Inserts a task for an instance and sets the instance's task status, atomically.</summary>
    /// <returns>False when the instance's task status was not <paramref name="expectedInstanceTask"/>.</returns>
    Task<bool> InsertForInstanceAsync(TaskRecord task, string expectedInstanceTask, string newInstanceTask, CancellationToken cancellationToken);

    Task<TaskRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Tasks not done or failed: pending ones and running ones whose lease may have lapsed.</summary>
    Task<IReadOnlyList<TaskRecord>> ListUnfinishedAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Takes the lease if the task still has the owner and lease the caller saw (compare and set).
    /// </summary>
    Task<bool> TryClaimAsync(string id, string? expectedOwner, DateTimeOffset? expectedLeaseUntil, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken);

    /// <summary>Extends the lease; false when the caller no longer holds it.</summary>
    Task<bool> RenewAsync(string id, string owner, DateTimeOffset leaseUntil, CancellationToken cancellationToken);

    /// <summary>Records progress; false when the caller no longer holds the lease.</summary>
    Task<bool> AdvanceAsync(string id, string owner, int step, CancellationToken cancellationToken);

    /// <summary>Records progress and replaces the task's payload (a plan made by the first step) in one write.</summary>
    Task<bool> AdvanceAsync(string id, string owner, int step, string payload, CancellationToken cancellationToken);

    /// <summary>Finishes the task (done or failed) and releases the lease.</summary>
    Task<bool> FinishAsync(string id, string owner, string state, string? error, CancellationToken cancellationToken);
}

/// <summary>Datastores and their versions: what engines can be asked for.</summary>
public interface IDatastoreStore
{
    Task UpsertDatastoreAsync(DatastoreRecord datastore, CancellationToken cancellationToken);

    Task UpsertDatastoreVersionAsync(DatastoreVersionRecord version, CancellationToken cancellationToken);

    Task<IReadOnlyList<DatastoreRecord>> ListDatastoresAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<DatastoreVersionRecord>> ListDatastoreVersionsAsync(string? datastoreId, CancellationToken cancellationToken);
}

/// <summary>
/// Flavors (the seed's flavors controller, with Trove's sizes): what size of instance can be asked for, public or private to
/// a project. Paged lists are in id order, after the marker id (exclusive; a marker that is gone still marks its place); a
/// limit of 0 or less means all. The order is ordinal for ids without ':' or '%' (the Redis backend orders escaped keys).
/// </summary>
public interface IFlavorStore
{
    /// <summary>Inserts the flavor, or replaces the one with its id (Zaqar's insert is an upsert).</summary>
    Task InsertAsync(FlavorRecord flavor, CancellationToken cancellationToken);

    /// <summary>The flavor, or null when there is none with that id.</summary>
    Task<FlavorRecord?> GetAsync(string id, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string id, CancellationToken cancellationToken);

    /// <summary>Applies a partial update; false when there is no such flavor.</summary>
    Task<bool> UpdateAsync(string id, FlavorChange change, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the flavor and takes it off its pools (they then host any flavor with no pools of its own), atomically;
    /// false, silently, when there is none.
    /// </summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Flavors after <paramref name="marker"/>: all of them when <paramref name="projectId"/> is null, else that project's private ones.</summary>
    Task<IReadOnlyList<FlavorRecord>> ListAsync(string? projectId, string? marker, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes every flavor (pools keep existing, with no flavor).</summary>
    Task DropAllAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Pools (the seed's pools controller): where instances run. Paged lists are in name order, after the marker name
/// (exclusive); a limit of 0 or less means all; ordinal for names without ':' or '%' (pool names the API accepts). No
/// operation costs more as a flavor gains pools.
/// </summary>
public interface IPoolStore
{
    /// <summary>Inserts the pool, or replaces the one of that name (Zaqar's insert is an upsert), moving it between flavors.</summary>
    Task InsertAsync(PoolRecord pool, CancellationToken cancellationToken);

    /// <summary>The pool, or null when there is none of that name.</summary>
    Task<PoolRecord?> GetAsync(string name, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string name, CancellationToken cancellationToken);

    /// <summary>Applies a partial update; false when there is no such pool.</summary>
    Task<bool> UpdateAsync(string name, PoolChange change, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the pool unless it hosts instances (has catalogue entries) or is the last pool of a flavor that exists; the
    /// check and the delete are one atomic step. A missing pool is not an error (<see cref="PoolDeletion.Missing"/>).
    /// </summary>
    Task<PoolDeletion> DeleteAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Pools after <paramref name="marker"/>: all of them when <paramref name="flavor"/> is null, those of that flavor
    /// otherwise, and those with no flavor when it is the empty string.
    /// </summary>
    Task<IReadOnlyList<PoolRecord>> ListAsync(string? flavor, string? marker, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes every pool, whatever it hosts (for tests and a reset; the API never calls it).</summary>
    Task DropAllAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The catalogue (the seed's catalogue controller): which pool holds each (project, instance). The instance store writes
/// an instance's entry with the instance and removes it when the instance is marked deleted; these methods are the
/// controller itself. Paged lists are grouped by project, instances in order within one, after the marker (exclusive); a
/// limit of 0 or less means all. Across projects the order of the projects is each backend's key order (SQL sorts the
/// pair; Redis sorts "project:instance" keys), so pages concatenate to the whole but may list projects differently.
/// </summary>
public interface ICatalogueStore
{
    /// <summary>Records the instance's pool, replacing an earlier entry (upsert).</summary>
    Task InsertAsync(CatalogueEntry entry, CancellationToken cancellationToken);

    /// <summary>The entry, or null when there is none.</summary>
    Task<CatalogueEntry?> GetAsync(string projectId, string instanceId, CancellationToken cancellationToken);

    Task<bool> ExistsAsync(string projectId, string instanceId, CancellationToken cancellationToken);

    /// <summary>Moves the entry to another pool; false when there is no such entry.</summary>
    Task<bool> UpdateAsync(string projectId, string instanceId, string pool, CancellationToken cancellationToken);

    /// <summary>Deletes the entry; a missing one is not an error.</summary>
    Task DeleteAsync(string projectId, string instanceId, CancellationToken cancellationToken);

    /// <summary>Entries of a project (all projects when null), after <paramref name="after"/>.</summary>
    Task<IReadOnlyList<CatalogueEntry>> ListAsync(string? projectId, CatalogueKey? after, int limit, CancellationToken cancellationToken);

    /// <summary>How many entries name the pool (what it hosts), from the pool's own index (no scan of other pools).</summary>
    Task<int> CountInPoolAsync(string pool, CancellationToken cancellationToken);

    /// <summary>Deletes every entry.</summary>
    Task DropAllAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Backups of instances. Lists are newest first (by creation), after the marker id (exclusive: a marker that is gone
/// still marks its place), live backups only; a limit of 0 or less means all.
/// </summary>
public interface IBackupStore
{
    /// <summary>
    /// Inserts the backup and the task that makes it in one transaction, unless the backup has a parent that is not a live
    /// COMPLETED backup of the same instance (<see cref="BackupInsert.ParentUnusable"/>), or <paramref name="quota"/> is
    /// given and the project already holds its <see cref="QuotaLimits.Backups"/> (the project's override in its place, given
    /// <see cref="QuotaLimits.ProjectOverrides"/>) live backups not being deleted (<see cref="BackupInsert.OverQuota"/>).
    /// Both checks run in the same transaction as the insert, so a parent being deleted cannot gain a child and concurrent
    /// creates of one project never exceed its quota. A DELETING backup no longer counts (Trove frees the quota when the
    /// delete is accepted).
    /// </summary>
    Task<BackupInsert> InsertWithTaskAsync(BackupRecord backup, TaskRecord task, QuotaLimits? quota, CancellationToken cancellationToken) =>
        InsertWithTaskAsync(backup, task, quota, claimInstance: false, cancellationToken);

    /// <summary>
    /// As the overload without <paramref name="claimInstance"/>; when it is true, the backup's instance must also be live with
    /// task status <see cref="InstanceTasks.None"/>, and is moved to <see cref="InstanceTasks.BackingUp"/> in the same
    /// transaction (else <see cref="BackupInsert.InstanceBusy"/>, nothing written). So once a backup is acknowledged, no
    /// restart, delete or other backup of its instance can be accepted before it has run.
    /// </summary>
    Task<BackupInsert> InsertWithTaskAsync(BackupRecord backup, TaskRecord task, QuotaLimits? quota, bool claimInstance, CancellationToken cancellationToken);

    /// <summary>The live backup, or null (missing, or marked deleted).</summary>
    Task<BackupRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Live backups of a project (all projects when null), of one instance when <paramref name="instanceId"/> is given.</summary>
    Task<IReadOnlyList<BackupRecord>> ListAsync(string? projectId, string? instanceId, string? marker, int limit, CancellationToken cancellationToken);

    /// <summary>Applies a partial update; false when there is no such live backup.</summary>
    Task<bool> UpdateAsync(string id, BackupChange change, CancellationToken cancellationToken);

    /// <summary>
    /// Moves a live backup to DELETING and inserts its delete task, in one transaction, unless a live backup has it as
    /// parent (<see cref="BackupDeletion.HasChildren"/>) or it is still being made or already DELETING
    /// (<see cref="BackupDeletion.Busy"/>). FAILED, COMPLETED and DELETE_FAILED backups can be deleted.
    /// </summary>
    Task<BackupDeletion> StartDeleteAsync(string id, TaskRecord task, CancellationToken cancellationToken);

    /// <summary>Counts a project's live backups (for its quota).</summary>
    Task<int> CountAsync(string projectId, CancellationToken cancellationToken);
}

/// <summary>
/// Configuration groups (Trove's Configuration) and which instances they are attached to. Lists are oldest first (by
/// creation), after the marker id (exclusive: a marker that is gone still marks its place), live groups only; a limit of 0
/// or less means all. An instance's group is <see cref="InstanceRecord.ConfigurationId"/>, written by
/// <see cref="IInstanceStore.InsertWithTaskAsync"/> for a create and by <see cref="AttachAsync"/> afterwards.
/// </summary>
public interface IConfigurationStore
{
    Task InsertAsync(ConfigurationRecord configuration, CancellationToken cancellationToken);

    /// <summary>The live group, or null (missing, or deleted).</summary>
    Task<ConfigurationRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Live groups of a project (all projects when null).</summary>
    Task<IReadOnlyList<ConfigurationRecord>> ListAsync(string? projectId, string? marker, int limit, CancellationToken cancellationToken);

    /// <summary>Applies a partial update (and sets UpdatedAt); false when there is no such live group.</summary>
    Task<bool> UpdateAsync(string id, ConfigurationChange change, CancellationToken cancellationToken);

    /// <summary>
    /// Marks the group deleted, unless a live instance has it attached (checked in the same transaction, so an attach
    /// cannot slip in between).
    /// </summary>
    Task<ConfigurationDeletion> DeleteAsync(string id, CancellationToken cancellationToken);

    /// <summary>Ids of the live instances the group is attached to, oldest first.</summary>
    Task<IReadOnlyList<string>> ListInstancesAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Sets the live instance's group (null detaches) when it currently has <paramref name="expectedConfigurationId"/>
    /// (null: none) and the new group, when not null, is live — all checked in the same transaction as the write.
    /// </summary>
    Task<ConfigurationAttach> AttachAsync(string instanceId, string? expectedConfigurationId, string? configurationId, CancellationToken cancellationToken);
}

/// <summary>Clusters and their members. A task's instance id is the cluster's id for cluster tasks.</summary>
public interface IClusterStore
{
    /// <summary>
    /// Inserts the cluster, its members with their build tasks (adopting the warm ones), and the cluster's task, in one
    /// transaction; false, and nothing written, when a warm member to adopt was taken by another create meanwhile. New
    /// members get catalogue entries in their pool; an adopted warm member's entry moves to the cluster's project.
    /// </summary>
    async Task<bool> InsertAsync(ClusterRecord cluster, IReadOnlyList<NewMember> members, TaskRecord clusterTask, CancellationToken cancellationToken) =>
        (await InsertAsync(cluster, members, clusterTask, QuotaLimits.None, cancellationToken)).Inserted;

    /// <summary>
    /// Inserts as the overload without a quota does, unless a warm member was taken (<see cref="QuotaInsert.Refused"/>) or
    /// the cluster and its members (new and adopted) would take the project over <paramref name="quota"/>'s clusters,
    /// instances, volumes or ram (<see cref="QuotaInsert.Over"/>), counted in the same transaction as the insert.
    /// </summary>
    Task<QuotaInsert> InsertAsync(ClusterRecord cluster, IReadOnlyList<NewMember> members, TaskRecord clusterTask, QuotaLimits quota, CancellationToken cancellationToken);

    /// <summary>Live warm instances (built for no cluster yet) of a datastore version and flavor, oldest first, whatever their state.</summary>
    Task<IReadOnlyList<InstanceRecord>> ListWarmAsync(string datastoreVersionId, string flavorId, CancellationToken cancellationToken);

    Task<ClusterRecord?> GetAsync(string id, CancellationToken cancellationToken);

    /// <summary>Live clusters of a project, oldest first, after <paramref name="marker"/>; at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<ClusterRecord>> ListAsync(string projectId, string? marker, int limit, CancellationToken cancellationToken);

    /// <summary>Live members of a cluster, oldest first.</summary>
    Task<IReadOnlyList<InstanceRecord>> ListMembersAsync(string clusterId, CancellationToken cancellationToken);

    /// <summary>
    /// Moves the cluster from task <paramref name="expectedTask"/> to <paramref name="newTask"/>, inserting its task and any
    /// new members with theirs (and their catalogue entries), atomically; false (and nothing written) when the cluster's
    /// task was not the expected one.
    /// </summary>
    async Task<bool> StartTaskAsync(string clusterId, string expectedTask, string newTask, TaskRecord clusterTask, IReadOnlyList<NewMember> newMembers, CancellationToken cancellationToken) =>
        (await StartTaskAsync(clusterId, expectedTask, newTask, clusterTask, newMembers, QuotaLimits.None, cancellationToken)).Inserted;

    /// <summary>
    /// Starts the task as the overload without a quota does (<see cref="QuotaInsert.Refused"/> when the cluster's task was
    /// not the expected one), unless the new members (a grow) would take the cluster's project over
    /// <paramref name="quota"/>'s instances, volumes or ram (<see cref="QuotaInsert.Over"/>), counted in the same transaction.
    /// </summary>
    Task<QuotaInsert> StartTaskAsync(string clusterId, string expectedTask, string newTask, TaskRecord clusterTask, IReadOnlyList<NewMember> newMembers, QuotaLimits quota, CancellationToken cancellationToken);

    /// <summary>Sets the cluster's task status (only while it is <paramref name="expectedTask"/>, when given).</summary>
    Task<bool> SetTaskAsync(string clusterId, string? expectedTask, string newTask, CancellationToken cancellationToken);

    Task<bool> SetRootSecretAsync(string clusterId, string sealedSecret, CancellationToken cancellationToken);

    /// <summary>Marks the cluster deleted.</summary>
    Task<bool> DeleteAsync(string clusterId, CancellationToken cancellationToken);

    /// <summary>Counts live clusters of a project.</summary>
    Task<int> CountAsync(string projectId, CancellationToken cancellationToken);
}

/// <summary>Opens a management store for the connection strings of one scheme.</summary>
public interface IManagementStoreFactory
{
    string Scheme { get; }

    IManagementStore Open(Uri connection);
}
