using Microsoft.Extensions.Logging;

namespace Hoard.Guest;

/// <summary>The guest agent's log lines, with stable event ids (4000-4099). No password or secret is ever an argument.</summary>
internal static partial class Log
{
    [LoggerMessage(4000, LogLevel.Information, "Guest agent of pool {Pool} started with {Count} instances")]
    public static partial void Started(ILogger logger, string pool, int count);

    [LoggerMessage(4001, LogLevel.Information, "Connected to the control plane at {Url}")]
    public static partial void Connected(ILogger logger, Uri url);

    [LoggerMessage(4002, LogLevel.Warning, "Lost the control plane ({Reason}); retrying")]
    public static partial void Disconnected(ILogger logger, string reason);

    [LoggerMessage(4003, LogLevel.Information, "Instance {Instance}: {Method} done in {Ms} ms")]
    public static partial void CallDone(ILogger logger, string instance, string method, long ms);

    [LoggerMessage(4004, LogLevel.Error, "Instance {Instance}: {Method} failed")]
    public static partial void CallFailed(ILogger logger, Exception exception, string instance, string method);

    [LoggerMessage(4005, LogLevel.Warning, "Instance {Instance}: server process is gone; restarting it")]
    public static partial void Restarting(ILogger logger, string instance);

    [LoggerMessage(4006, LogLevel.Error, "Instance {Instance}: restart after a crash failed")]
    public static partial void RestartFailed(ILogger logger, Exception exception, string instance);

    [LoggerMessage(4007, LogLevel.Warning, "Instance {Instance}: the control plane refused the claim ({Reason})")]
    public static partial void ClaimRefused(ILogger logger, string instance, string reason);

    [LoggerMessage(4008, LogLevel.Warning, "Instance {Instance}: unknown to the control plane; destroying what is left of it")]
    public static partial void DestroyingOrphan(ILogger logger, string instance);

    [LoggerMessage(4009, LogLevel.Error, "Could not load instance {Directory}")]
    public static partial void LoadFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(4010, LogLevel.Information, "Instance {Instance}: destroyed")]
    public static partial void Destroyed(ILogger logger, string instance);

    [LoggerMessage(4011, LogLevel.Information, "Instance {Instance}: {Method} refused ({Code})")]
    public static partial void CallRefused(ILogger logger, string instance, string method, string code);

    [LoggerMessage(4012, LogLevel.Warning, "Instance {Instance}: server process is gone; restarting it in {Delay}, once the cluster has failed over")]
    public static partial void RestartHeldBack(ILogger logger, string instance, TimeSpan delay);

    [LoggerMessage(4013, LogLevel.Information, "Learnt the configuration parameters of {Datastore} {Version} from a scratch server: {Count}")]
    public static partial void ParametersDiscovered(ILogger logger, string datastore, string version, int count);
}
