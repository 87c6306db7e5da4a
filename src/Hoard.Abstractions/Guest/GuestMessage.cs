using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hoard.Abstractions.Guest;

/// <summary>
/// One frame of the guest RPC, sent as a JSON text message over the WebSocket that the agent dials
/// to the control plane. The agent always dials out, so guests need no inbound port.
/// </summary>
/// <remarks>
/// Agent to control plane: <c>hello</c> (once, with the pool), <c>claim</c> (an instance and its secret),
/// <c>heartbeat</c> (statuses of the instances it runs), <c>reply</c> (to a call).
/// Control plane to agent: <c>welcome</c>, <c>adopt</c> (read this instance's guest-info and claim it),
/// <c>call</c> (run a method on one claimed instance), <c>forget</c> (stop tracking an instance).
/// </remarks>
public sealed record GuestMessage
{
    [JsonPropertyName("t")]
    public required string Type { get; init; }

    /// <summary>Correlates a call with its reply.</summary>
    [JsonPropertyName("id")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long CallId { get; init; }

    [JsonPropertyName("instance")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Instance { get; init; }

    [JsonPropertyName("method")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Method { get; init; }

    [JsonPropertyName("args")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Args { get; init; }

    [JsonPropertyName("result")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Result { get; init; }

    [JsonPropertyName("error")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; init; }

    /// <summary>With an error: what kind of refusal it is (a <c>DatastoreOperationException</c> code), or null for a failure.</summary>
    [JsonPropertyName("code")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ErrorCode { get; init; }

    [JsonPropertyName("secret")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Secret { get; init; }

    [JsonPropertyName("pool")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Pool { get; init; }

    /// <summary>Instance id to Trove service status name, in heartbeats.</summary>
    [JsonPropertyName("statuses")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? Statuses { get; init; }

    /// <summary>In a call that is being traced: the W3C traceparent the agent continues, so its work joins the trace.</summary>
    [JsonPropertyName("traceparent")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceParent { get; init; }

    /// <summary>In the reply to a traced call: the trace points the agent made answering it; the control plane stores them.</summary>
    [JsonPropertyName("trace")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<Hoard.Abstractions.Tracing.TracePoint>? Trace { get; init; }

    /// <summary>Instance ids the agent has on disk, sent in hello so the control plane can reconcile.</summary>
    [JsonPropertyName("instances")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Instances { get; init; }
}

public static class GuestMessageTypes
{
    public const string Hello = "hello";
    public const string Welcome = "welcome";
    public const string Claim = "claim";
    public const string Claimed = "claimed";
    public const string Heartbeat = "heartbeat";
    public const string Adopt = "adopt";
    public const string Forget = "forget";
    public const string Call = "call";
    public const string Reply = "reply";
}

/// <summary>The guest RPC methods, Trove's names where Trove has them (guestagent/api.py).</summary>
public static class GuestMethods
{
    public const string Prepare = "prepare";
    public const string Restart = "restart";
    public const string Stop = "stop_db";
    public const string Start = "start_db";
    public const string Destroy = "destroy";
    public const string EnableRoot = "enable_root";
    public const string DisableRoot = "disable_root";
    public const string Status = "get_status";
    public const string ListDatabases = "list_databases";
    public const string CreateDatabase = "create_database";
    public const string DeleteDatabase = "delete_database";
    public const string ListUsers = "list_users";
    public const string CreateUser = "create_user";
    public const string DeleteUser = "delete_user";
    public const string UpdateAttributes = "update_attributes";
    public const string ChangePasswords = "change_passwords";
    public const string GrantAccess = "grant_access";
    public const string RevokeAccess = "revoke_access";

    // Redis cluster (Trove's Redis cluster spec), then Hoard's additions for replicas and live slot moves.
    public const string GetNodeIp = "get_node_ip";
    public const string GetNodeIdForRemoval = "get_node_id_for_removal";
    public const string RemoveNodes = "remove_nodes";
    public const string ClusterMeet = "cluster_meet";
    public const string ClusterAddSlots = "cluster_addslots";
    public const string ClusterComplete = "cluster_complete";
    public const string ClusterReplicate = "cluster_replicate";
    public const string ClusterNodes = "cluster_nodes";
    public const string ClusterMoveSlots = "cluster_move_slots";

    // Backups (Trove's create_backup; restore is part of Trove's prepare, a method of its own here).
    public const string CreateBackup = "create_backup";
    public const string RestoreBackup = "restore_backup";

    // Configuration groups: Trove's update_overrides and apply_overrides in one call, the effective values, and the
    // parameters a datastore version accepts (an agent-level call: no instance needed, the agent asks a scratch server).
    public const string ApplyConfiguration = "apply_configuration";
    public const string GetConfiguration = "get_configuration";
    public const string DiscoverParameters = "discover_parameters";

    // Database logs: Trove's guest_log_list and guest_log_action, split so the control plane stores the published parts.
    public const string GuestLogList = "guest_log_list";
    public const string GuestLogEnable = "guest_log_enable";
    public const string GuestLogRead = "guest_log_read";
}

/// <summary>
/// The file the compute driver writes into an instance's directory before the guest adopts it,
/// like the guest_info.conf Trove injects into a Nova server.
/// </summary>
public sealed record GuestInfo
{
    public const string FileName = "guest-info.json";

    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("secret")]
    public required string Secret { get; init; }

    [JsonPropertyName("datastore")]
    public required string Datastore { get; init; }

    [JsonPropertyName("version")]
    public required string Version { get; init; }

    [JsonPropertyName("address")]
    public required string Address { get; init; }

    [JsonPropertyName("port")]
    public required int Port { get; init; }

    [JsonPropertyName("ram_mb")]
    public required int RamMb { get; init; }

    /// <summary>The guest-side options of the datastore's group, as the control plane is configured.</summary>
    [JsonPropertyName("options")]
    public Dictionary<string, string> Options { get; init; } = [];

    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}
