using Hoard.Abstractions.Plugins;
using Hoard.Guest;
using Microsoft.Extensions.Logging;

// hoard-guest --control-plane URL [--control-plane URL ...] --pool NAME --pool-dir DIR
// One agent per pool: a second one started for the same pool finds the lock taken and exits.
string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

// Every control-plane replica, each given with its own --control-plane.
var urls = new List<Uri>();
for (var i = 0; i + 1 < args.Length; i++)
{
    if (args[i] == "--control-plane")
    {
        urls.Add(Uri.TryCreate(args[i + 1], UriKind.Absolute, out var url) ? url : null!);
    }
}

var pool = Arg("--pool");
var poolDir = Arg("--pool-dir");
if (urls.Count == 0 || urls.Contains(null!) || pool is null || poolDir is null)
{
    Console.Error.WriteLine("usage: hoard-guest --control-plane http://HOST:PORT [--control-plane http://HOST:PORT ...] --pool NAME --pool-dir DIR");
    return 2;
}

Directory.CreateDirectory(poolDir);
FileStream agentLock;
try
{
    agentLock = new FileStream(Path.Combine(poolDir, "agent.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
}
catch (IOException)
{
    Console.Error.WriteLine($"another guest agent already serves {poolDir}");
    return 0;
}

await using (agentLock)
{
    File.WriteAllText(Path.Combine(poolDir, "agent.pid"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
    using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
        o.UseUtcTimestamp = true;
    }));
    using var stop = new CancellationTokenSource();
    using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
    {
        c.Cancel = true;
        stop.Cancel();
    });
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };

    var agent = new GuestAgent(
        new GuestAgentOptions { ControlPlanes = urls, Pool = pool, PoolDir = Path.GetFullPath(poolDir) },
        PluginRegistry.FromApplicationDirectory(),
        loggerFactory);
    await agent.RunAsync(stop.Token);
}

return 0;
