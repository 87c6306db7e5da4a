using System.Text.Json;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;

namespace Hoard.Core.Clusters;

/// <summary>
/// A rebalance task's payload: what to exclude, then (once the first step has planned it) every move, stored in
/// the task so a control plane killed mid-rebalance resumes at the move it was making instead of planning anew.
/// Step 0 plans; step k (1..n) makes move k-1; step n+1 checks the cluster and finishes.
/// </summary>
public sealed record RebalancePlan
{
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>Null until planned.</summary>
    public IReadOnlyList<PlannedStep>? Moves { get; init; }

    public long KeysMoved { get; init; }

    public static RebalancePlan Read(string payload) =>
        JsonSerializer.Deserialize<RebalancePlan>(payload, GuestArguments.Json) ?? new RebalancePlan();

    public string Write() => JsonSerializer.Serialize(this, GuestArguments.Json);

    public static TaskProgress Progress(TaskRecord task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var plan = Read(task.Payload);
        var total = plan.Moves?.Sum(m => m.Slots.Sum(s => s.Count)) ?? 0;
        var done = plan.Moves?.Take(Math.Max(0, task.Step - 1)).Sum(m => m.Slots.Sum(s => s.Count)) ?? 0;
        return new TaskProgress(done, total);
    }
}

/// <summary>One move of a stored plan: which member gives which slots to which.</summary>
public sealed record PlannedStep(string SourceInstanceId, string TargetInstanceId, string TargetNodeId, IReadOnlyList<SlotRange> Slots);
