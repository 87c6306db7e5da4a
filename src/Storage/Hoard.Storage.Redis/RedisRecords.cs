using System.Globalization;
using Hoard.Abstractions.Storage;
using static Hoard.Storage.Redis.RedisDb;

namespace Hoard.Storage.Redis;

/// <summary>Records to and from hash fields (named as the SQLite columns; a null field is absent).</summary>
internal static class RedisRecords
{
    public static Dictionary<string, object> Fields(InstanceRecord i) => Arg(
        ("id", i.Id), ("name", i.Name), ("project_id", i.ProjectId), ("flavor_id", i.FlavorId),
        ("datastore_version_id", i.DatastoreVersionId), ("volume_size", Int(i.VolumeSize)), ("task_status", i.TaskStatus),
        ("service_status", i.ServiceStatus), ("server_status", i.ServerStatus), ("pool", i.Pool), ("address", i.Address),
        ("port", Int(i.Port)), ("secret_hash", i.SecretHash), ("root_enabled", Bool(i.RootEnabled)),
        ("created_at", Ms(i.CreatedAt)), ("updated_at", Ms(i.UpdatedAt)), ("service_status_updated_at", Ms(i.CreatedAt)),
        ("deleted", "0"), ("cluster_id", i.ClusterId), ("instance_type", i.InstanceType), ("replica_of", i.ReplicaOf),
        ("configuration_id", i.ConfigurationId));

    public static InstanceRecord Instance(Dictionary<string, string> h) => new()
    {
        Id = h["id"],
        Name = h["name"],
        ProjectId = h["project_id"],
        FlavorId = h["flavor_id"],
        DatastoreVersionId = h["datastore_version_id"],
        VolumeSize = IntOrNull(h, "volume_size"),
        TaskStatus = h["task_status"],
        ServiceStatus = h["service_status"],
        ServerStatus = h["server_status"],
        Pool = h["pool"],
        Address = StringOrNull(h, "address"),
        Port = IntOrNull(h, "port"),
        SecretHash = h["secret_hash"],
        RootEnabled = BoolOf(h, "root_enabled"),
        FaultMessage = StringOrNull(h, "fault_message"),
        FaultDetails = StringOrNull(h, "fault_details"),
        FaultAt = TimeOrNull(h, "fault_at"),
        CreatedAt = Time(h, "created_at"),
        UpdatedAt = Time(h, "updated_at"),
        ServiceStatusUpdatedAt = TimeOrNull(h, "service_status_updated_at"),
        Deleted = BoolOf(h, "deleted"),
        ClusterId = StringOrNull(h, "cluster_id"),
        InstanceType = StringOrNull(h, "instance_type"),
        ReplicaOf = StringOrNull(h, "replica_of"),
        ClusterNodeId = StringOrNull(h, "cluster_node_id"),
        ConfigurationId = StringOrNull(h, "configuration_id"),
    };

    public static Dictionary<string, object> Fields(TaskRecord t) => Arg(
        ("id", t.Id), ("kind", t.Kind), ("instance_id", t.InstanceId), ("state", t.State), ("step", Int(t.Step)),
        ("lease_owner", t.LeaseOwner), ("lease_until", Ms(t.LeaseUntil)), ("attempts", Int(t.Attempts)), ("error", t.Error),
        ("payload", t.Payload), ("created_at", Ms(t.CreatedAt)), ("updated_at", Ms(t.UpdatedAt)));

    public static TaskRecord Task(Dictionary<string, string> h) => new()
    {
        Id = h["id"],
        Kind = h["kind"],
        InstanceId = h["instance_id"],
        State = h["state"],
        Step = IntOf(h, "step"),
        LeaseOwner = StringOrNull(h, "lease_owner"),
        LeaseUntil = TimeOrNull(h, "lease_until"),
        Attempts = IntOf(h, "attempts"),
        Error = StringOrNull(h, "error"),
        Payload = h["payload"],
        CreatedAt = Time(h, "created_at"),
        UpdatedAt = Time(h, "updated_at"),
    };

    public static Dictionary<string, object> Fields(ClusterRecord c) => Arg(
        ("id", c.Id), ("name", c.Name), ("project_id", c.ProjectId), ("datastore_version_id", c.DatastoreVersionId),
        ("task_status", c.TaskStatus), ("root_secret", c.RootSecret), ("created_at", Ms(c.CreatedAt)),
        ("updated_at", Ms(c.UpdatedAt)), ("deleted", "0"));

    public static ClusterRecord Cluster(Dictionary<string, string> h) => new()
    {
        Id = h["id"],
        Name = h["name"],
        ProjectId = h["project_id"],
        DatastoreVersionId = h["datastore_version_id"],
        TaskStatus = h["task_status"],
        RootSecret = StringOrNull(h, "root_secret"),
        CreatedAt = Time(h, "created_at"),
        UpdatedAt = Time(h, "updated_at"),
        Deleted = BoolOf(h, "deleted"),
    };

    public static Dictionary<string, object> Fields(BackupRecord b) => Arg(
        ("id", b.Id), ("name", b.Name), ("description", b.Description), ("project_id", b.ProjectId), ("instance_id", b.InstanceId),
        ("parent_id", b.ParentId), ("datastore_version_id", b.DatastoreVersionId), ("state", b.State), ("size", Long(b.Size)),
        ("checksum", b.Checksum), ("location", b.Location), ("fault_message", b.FaultMessage), ("created_at", Ms(b.CreatedAt)),
        ("updated_at", Ms(b.UpdatedAt)), ("deleted", "0"), ("schedule_id", b.ScheduleId));

    public static BackupRecord Backup(Dictionary<string, string> h) => new()
    {
        Id = h["id"],
        Name = h["name"],
        Description = StringOrNull(h, "description"),
        ProjectId = h["project_id"],
        InstanceId = h["instance_id"],
        ParentId = StringOrNull(h, "parent_id"),
        DatastoreVersionId = h["datastore_version_id"],
        State = h["state"],
        Size = h.TryGetValue("size", out var size) ? long.Parse(size, CultureInfo.InvariantCulture) : null,
        Checksum = StringOrNull(h, "checksum"),
        Location = StringOrNull(h, "location"),
        FaultMessage = StringOrNull(h, "fault_message"),
        CreatedAt = Time(h, "created_at"),
        UpdatedAt = Time(h, "updated_at"),
        Deleted = BoolOf(h, "deleted"),
        ScheduleId = StringOrNull(h, "schedule_id"),
    };

    public static Dictionary<string, object> Fields(BackupScheduleRecord s) => Arg(
        ("id", s.Id), ("project_id", s.ProjectId), ("instance_id", s.InstanceId), ("name", s.Name), ("description", s.Description),
        ("pattern", s.Pattern), ("interval_minutes", Int(s.IntervalMinutes)), ("retention", Int(s.Retention)),
        ("enabled", Bool(s.Enabled)), ("next_run_at", Ms(s.NextRunAt)), ("last_run_at", Ms(s.LastRunAt)),
        ("last_backup_id", s.LastBackupId), ("last_error", s.LastError), ("created_at", Ms(s.CreatedAt)), ("updated_at", Ms(s.UpdatedAt)));

    public static BackupScheduleRecord BackupSchedule(Dictionary<string, string> h) => new()
    {
        Id = h["id"],
        ProjectId = h["project_id"],
        InstanceId = h["instance_id"],
        Name = h["name"],
        Description = StringOrNull(h, "description"),
        Pattern = StringOrNull(h, "pattern"),
        IntervalMinutes = IntOrNull(h, "interval_minutes"),
        Retention = IntOf(h, "retention"),
        Enabled = BoolOf(h, "enabled"),
        NextRunAt = Time(h, "next_run_at"),
        LastRunAt = TimeOrNull(h, "last_run_at"),
        LastBackupId = StringOrNull(h, "last_backup_id"),
        LastError = StringOrNull(h, "last_error"),
        CreatedAt = Time(h, "created_at"),
        UpdatedAt = Time(h, "updated_at"),
    };

    public static Dictionary<string, object> Fields(ConfigurationRecord c) => Arg(
        ("id", c.Id), ("name", c.Name), ("description", c.Description), ("project_id", c.ProjectId),
        ("datastore_version_id", c.DatastoreVersionId), ("values", c.Values), ("created_at", Ms(c.CreatedAt)),
        ("updated_at", Ms(c.UpdatedAt)), ("deleted", "0"));

    public static ConfigurationRecord Configuration(Dictionary<string, string> h) => new()
    {
        Id = h["id"],
        Name = h["name"],
        Description = StringOrNull(h, "description"),
        ProjectId = h["project_id"],
        DatastoreVersionId = h["datastore_version_id"],
        Values = h["values"],
        CreatedAt = Time(h, "created_at"),
        UpdatedAt = Time(h, "updated_at"),
        Deleted = BoolOf(h, "deleted"),
    };

    public static string? Long(long? l) => l?.ToString(CultureInfo.InvariantCulture);

    /// <summary>New members with their tasks, or warm ones to adopt (no task), as the cluster scripts take them.</summary>
    public static List<Dictionary<string, object>> Members(IReadOnlyList<NewMember> members) =>
        [.. members.Select(m => Arg(("instance", Fields(m.Instance)), ("task", m.Task is null ? null : Fields(m.Task))))];
}
