using Hoard.Core.Configuration;
using Hoard.Core.Instances;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Guests;

/// <summary>
/// Keeps each pool's guest agent alive: starts one when a pool with instances has none running, and
/// replaces one that stays connected-but-silent or disconnected for longer than agent_restart_after.
/// </summary>
public sealed partial class AgentSupervisor(ComputePools pools, GuestHub hub, HoardOptions options, TimeProvider time, ILogger<AgentSupervisor> logger)
{
    private readonly Dictionary<string, DateTimeOffset> _missingSince = new(StringComparer.Ordinal);

    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var driver in pools.All)
        {
            var session = hub.SessionOf(driver.Pool);
            if (session is not null && now - session.LastHeard < options.AgentRestartAfter)
            {
                _missingSince.Remove(driver.Pool);
                continue;
            }

            if (session is null && driver.ListProvisioned().Count == 0)
            {
                continue; // an empty pool needs no agent until its first create
            }

            if (await driver.EnsureAgentAsync(cancellationToken))
            {
                _missingSince[driver.Pool] = now;
                continue;
            }

            // The agent process exists but does not talk to us: give it the grace period, then replace it.
            if (!_missingSince.TryGetValue(driver.Pool, out var since))
            {
                _missingSince[driver.Pool] = session?.LastHeard ?? now;
            }
            else if (now - since >= options.AgentRestartAfter)
            {
                LogReplacing(driver.Pool, (int)(now - since).TotalSeconds);
                await driver.KillAgentAsync(cancellationToken);
                if (session is not null)
                {
                    hub.Detach(session);
                }

                await driver.EnsureAgentAsync(cancellationToken);
                _missingSince[driver.Pool] = now;
            }
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        do
        {
            try
            {
                await CheckAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogCheckFailed(e);
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    [LoggerMessage(1400, LogLevel.Warning, "Guest agent of pool {Pool} silent for {Seconds} s; replacing it")]
    private partial void LogReplacing(string pool, int seconds);

    [LoggerMessage(1401, LogLevel.Error, "Agent supervision pass failed")]
    private partial void LogCheckFailed(Exception exception);
}
