using System.Text.Json;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Storage;

namespace Hoard.Core.Clusters;

/// <summary>
/// A rebalance task's payload: what to exclude, then (once the first step has planned it) every move, stored in
/// the task so a control plane killed mid-rebalance resumes at the moves it was making instead of planning anew.
/// Step 0 plans; step k (1..n) makes wave k-1 (the (k-1)-th move of every source, at once); step n+1 checks the
/// cluster and finishes.
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

    /// <summary>
    /// The moves grouped into waves that run at once: wave i holds the i-th move of every source (sources in the
    /// plan's order), so no source runs two moves at a time and each wave is one recorded step.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<PlannedStep>> Waves()
    {
        var bySource = (Moves ?? []).GroupBy(m => m.SourceInstanceId, StringComparer.Ordinal).Select(g => g.ToList()).ToList();
        var waves = new List<IReadOnlyList<PlannedStep>>();
        for (var i = 0; bySource.Any(g => g.Count > i); i++)
        {
            waves.Add([.. bySource.Where(g => g.Count > i).Select(g => g[i])]);
        }

        return waves;
    }

    public static TaskProgress Progress(TaskRecord task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var waves = Read(task.Payload).Waves();
        var total = waves.Sum(w => w.Sum(m => m.Slots.Sum(s => s.Count)));
        var done = waves.Take(Math.Max(0, task.Step - 1)).Sum(w => w.Sum(m => m.Slots.Sum(s => s.Count)));
        return new TaskProgress(done, total);
    }
}

/// <summary>One move of a stored plan: which member gives which slots to which.</summary>
public sealed record PlannedStep(string SourceInstanceId, string TargetInstanceId, string TargetNodeId, IReadOnlyList<SlotRange> Slots);
