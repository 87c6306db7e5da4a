using Hoard.Abstractions.Storage;

namespace Hoard.Core.Tasks;

public static class TaskRecords
{
    /// <summary>
    /// A new pending task of <paramref name="kind"/> for <paramref name="subjectId"/> (an instance, cluster or backup
    /// id) with its arguments; when the request that makes it is traced, the task carries the trace on.
    /// </summary>
    public static TaskRecord Pending(string kind, string subjectId, DateTimeOffset now, string payload = "{}") => new()
    {
        Id = Guid.NewGuid().ToString(),
        Kind = kind,
        InstanceId = subjectId,
        State = TaskStates.Pending,
        Payload = TaskTrace.Stamp(payload),
        CreatedAt = now,
        UpdatedAt = now,
    };
}
