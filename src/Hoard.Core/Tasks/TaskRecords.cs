using Hoard.Abstractions.Storage;

namespace Hoard.Core.Tasks;

public static class TaskRecords
{
    /// <summary>A new pending task of <paramref name="kind"/> for <paramref name="subjectId"/> (an instance, cluster or backup id).</summary>
    public static TaskRecord Pending(string kind, string subjectId, DateTimeOffset now) => new()
    {
        Id = Guid.NewGuid().ToString(),
        Kind = kind,
        InstanceId = subjectId,
        State = TaskStates.Pending,
        CreatedAt = now,
        UpdatedAt = now,
    };
}
