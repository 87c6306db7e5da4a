using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Hoard.Abstractions.Clusters;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Tracing;
using Microsoft.Extensions.Logging;

namespace Hoard.Guest;

/// <summary>
/// The guest agent: serves the guest RPC for every instance of its pool over one WebSocket it dials to
/// the control plane, and supervises each instance's server process, restarting one that dies.
/// Databases run in their own sessions, so they outlive the agent; a restarted agent re-adopts them
/// from the pool directory.
/// </summary>
public sealed class GuestAgent
{
    private readonly GuestAgentOptions _options;
    private readonly PluginRegistry _plugins;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, InstanceSlot> _slots = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IDatastoreManager> _managers = new(StringComparer.Ordinal);
    private readonly IReadOnlyList<ControlPlaneLink> _links;
    private readonly ConcurrentDictionary<string, DiscoveredParameters> _parameters = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _scratchGate = new(1, 1);
    private TimeSpan _heartbeatInterval;

    public GuestAgent(GuestAgentOptions options, PluginRegistry plugins, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _plugins = plugins;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<GuestAgent>();
        _heartbeatInterval = options.HeartbeatInterval;
        _links = [.. options.ControlPlanes.Distinct().Select(u => new ControlPlaneLink(u))];
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_options.InstancesDir);
        foreach (var dir in Directory.EnumerateDirectories(_options.InstancesDir))
        {
            TryLoad(dir);
        }

        await RemoveScratchLeftoversAsync();
        Log.Started(_logger, _options.Pool, _slots.Count);
        var supervise = SuperviseAsync(cancellationToken);
        var heartbeat = HeartbeatAsync(cancellationToken);
        await Task.WhenAll(_links.Select(link => ConnectLoopAsync(link, cancellationToken)));
        await Task.WhenAll(supervise, heartbeat).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private InstanceSlot? TryLoad(string dir)
    {
        try
        {
            var infoPath = Path.Combine(dir, GuestInfo.FileName);
            if (!File.Exists(infoPath))
            {
                return null;
            }

            var info = JsonSerializer.Deserialize<GuestInfo>(File.ReadAllText(infoPath))
                ?? throw new InvalidDataException($"{infoPath} is empty");
            var instance = new GuestInstance
            {
                Id = info.Id,
                Datastore = info.Datastore,
                Version = info.Version,
                Directory = dir,
                Address = info.Address,
                Port = info.Port,
                RamMb = info.RamMb,
                Options = info.Options,
            };

            var manager = ManagerFor(info.Datastore);
            var slot = _slots.GetOrAdd(info.Id, _ => new InstanceSlot(instance, info.Secret, manager));
            slot.Status = slot.Prepared && manager.IsProcessAlive(instance)
                ? (slot.RestartRequired ? ServiceStatus.RestartRequired : ServiceStatus.Running)
                : slot.Prepared ? ServiceStatus.Shutdown : ServiceStatus.Building;
            return slot;
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidDataException or KeyNotFoundException)
        {
            Log.LoadFailed(_logger, e, dir);
            return null;
        }
    }

    /// <summary>Keeps one control-plane replica connected: hello, a claim of every instance, then its calls.</summary>
    private async Task ConnectLoopAsync(ControlPlaneLink link, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(50);
        var url = new UriBuilder(link.Url) { Scheme = link.Url.Scheme == "https" ? "wss" : "ws", Path = "/guest/v1" }.Uri;
        while (!cancellationToken.IsCancellationRequested)
        {
            using var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Authorization", "Bearer " + (await File.ReadAllTextAsync(_options.KeyPath, cancellationToken)).Trim());
            socket.Options.SetRequestHeader("X-Hoard-Pool", _options.Pool);
            socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(10);
            try
            {
                await socket.ConnectAsync(url, cancellationToken);
                link.Socket = socket;
                delay = TimeSpan.FromMilliseconds(50);
                Log.Connected(_logger, url);
                await SendAsync(link, new GuestMessage { Type = GuestMessageTypes.Hello, Pool = _options.Pool, Instances = [.. _slots.Keys] }, cancellationToken);
                foreach (var slot in _slots.Values)
                {
                    await SendAsync(link, new GuestMessage { Type = GuestMessageTypes.Claim, Instance = slot.Instance.Id, Secret = slot.Secret }, cancellationToken);
                }

                await ReceiveLoopAsync(link, socket, cancellationToken);
                Log.Disconnected(_logger, "closed");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is WebSocketException or IOException or HttpRequestException or InvalidOperationException or JsonException)
            {
                Log.Disconnected(_logger, e.Message);
            }
            finally
            {
                link.Socket = null;
            }

            try
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, _options.MaxReconnectDelay.TotalMilliseconds));
        }
    }

    private async Task ReceiveLoopAsync(ControlPlaneLink link, ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var chunk = new byte[16 * 1024];
        using var buffer = new MemoryStream();
        while (socket.State == WebSocketState.Open && await GuestSocket.ReceiveAsync(socket, buffer, chunk, cancellationToken) is { } frame)
        {
            Dispatch(link, frame, cancellationToken);
        }
    }

    /// <summary>Handles a frame from one replica; what answers it (a claim, a reply) goes back to that replica.</summary>
    private void Dispatch(ControlPlaneLink link, GuestMessage frame, CancellationToken cancellationToken)
    {
        switch (frame.Type)
        {
            case GuestMessageTypes.Welcome:
                if (frame.Args is { } args && args.TryGetProperty("heartbeat_interval_ms", out var ms))
                {
                    _heartbeatInterval = TimeSpan.FromMilliseconds(ms.GetInt32());
                }

                break;
            case GuestMessageTypes.Adopt when frame.Instance is not null:
                _ = AdoptAsync(link, frame.Instance, cancellationToken);
                break;
            case GuestMessageTypes.Claimed when frame.Error is not null && frame.Instance is not null:
                Log.ClaimRefused(_logger, frame.Instance, frame.Error);
                if (frame.Method == GuestMethods.Destroy && _slots.TryGetValue(frame.Instance, out var orphan))
                {
                    Log.DestroyingOrphan(_logger, frame.Instance);
                    _ = DestroyAsync(orphan, cancellationToken);
                }

                break;
            case GuestMessageTypes.Call:
                _ = CallAsync(link, frame, cancellationToken);
                break;
        }
    }

    private async Task AdoptAsync(ControlPlaneLink link, string instanceId, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(instanceId, out _))
        {
            return;
        }

        var slot = _slots.TryGetValue(instanceId, out var existing) ? existing : TryLoad(Path.Combine(_options.InstancesDir, instanceId));
        if (slot is not null)
        {
            await SendAsync(link, new GuestMessage { Type = GuestMessageTypes.Claim, Instance = instanceId, Secret = slot.Secret }, cancellationToken);
        }
    }

    private async Task CallAsync(ControlPlaneLink link, GuestMessage call, CancellationToken cancellationToken)
    {
        var id = call.Instance ?? string.Empty;
        var clock = Stopwatch.StartNew();
        var activity = GuestTracing.Start(call.TraceParent, call.Method ?? string.Empty, call.Instance);
        GuestMessage reply;
        try
        {
            object? result;
            if (id.Length == 0 && call.Method == GuestMethods.DiscoverParameters)
            {
                result = await DiscoverParametersAsync(GuestArguments.Read<DiscoverParametersArguments>(call.Args), cancellationToken);
            }
            else if (!_slots.TryGetValue(id, out var slot))
            {
                throw new InvalidOperationException($"this agent does not run instance {id}");
            }
            else
            {
                result = await RunAsync(slot, call.Method ?? string.Empty, call.Args, cancellationToken);
            }

            reply = new GuestMessage { Type = GuestMessageTypes.Reply, CallId = call.CallId, Instance = id, Result = JsonSerializer.SerializeToElement(result, GuestArguments.Json) };
            Log.CallDone(_logger, id, call.Method ?? string.Empty, clock.ElapsedMilliseconds);
        }
        catch (DatastoreOperationException e)
        {
            // A refusal (exists, missing, not supported): an answer for the caller, not a failure of the agent.
            Log.CallRefused(_logger, id, call.Method ?? string.Empty, e.Code);
            activity.RecordError(e);
            reply = new GuestMessage { Type = GuestMessageTypes.Reply, CallId = call.CallId, Instance = id, Error = e.Message, ErrorCode = e.Code };
        }
        catch (ArgumentException e)
        {
            Log.CallRefused(_logger, id, call.Method ?? string.Empty, DatastoreOperationException.InvalidCode);
            activity.RecordError(e);
            reply = new GuestMessage { Type = GuestMessageTypes.Reply, CallId = call.CallId, Instance = id, Error = e.Message, ErrorCode = DatastoreOperationException.InvalidCode };
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.CallFailed(_logger, e, id, call.Method ?? string.Empty);
            activity.RecordError(e);
            reply = new GuestMessage { Type = GuestMessageTypes.Reply, CallId = call.CallId, Instance = id, Error = e.Message };
        }

        if (GuestTracing.Finish(activity) is { } points)
        {
            reply = reply with { Trace = points };
        }

        try
        {
            await SendAsync(link, reply, cancellationToken);
        }
        catch (Exception e) when (e is WebSocketException or InvalidOperationException or IOException)
        {
            // The control plane went away; it retries the step and gets the same (idempotent) answer.
        }
    }

    private async Task<object?> RunAsync(InstanceSlot slot, string method, JsonElement? args, CancellationToken cancellationToken)
    {
        var instance = slot.Instance;
        var manager = slot.Manager;
        if (method == GuestMethods.Destroy)
        {
            await DestroyAsync(slot, cancellationToken);
            return new { destroyed = true };
        }

        await slot.Gate.WaitAsync(cancellationToken);
        try
        {
            if (slot.Destroyed)
            {
                throw new InvalidOperationException($"instance {instance.Id} was destroyed");
            }

            switch (method)
            {
                case GuestMethods.Prepare:
                    var prepare = args is null ? new PrepareArguments() : GuestArguments.Read<PrepareArguments>(args);

                    // The membership (and its secret) comes with this call only; the manager keeps what it needs on disk.
                    await manager.PrepareAsync(prepare.Cluster is null ? instance : instance with { Cluster = prepare.Cluster }, cancellationToken);
                    await CreateInitialSchemaAsync(manager, instance, prepare, cancellationToken);
                    if (prepare.RootPassword is { } rootPassword)
                    {
                        await manager.EnableRootAsync(instance, rootPassword, cancellationToken);
                    }

                    slot.MarkPrepared();
                    await SetStatusAsync(slot, ServiceStatus.Running, cancellationToken);
                    return new { status = ServiceStatus.Running.ToTroveName() };
                case GuestMethods.Restart:
                    await SetStatusAsync(slot, ServiceStatus.Restarting, cancellationToken);
                    await manager.StopAsync(instance, cancellationToken);
                    await manager.StartAsync(instance, cancellationToken);
                    slot.SetRestartRequired(false); // the server read every configuration value as it started
                    await SetStatusAsync(slot, ServiceStatus.Running, cancellationToken);
                    return new { status = ServiceStatus.Running.ToTroveName() };
                case GuestMethods.EnableRoot:
                    var credentials = await manager.EnableRootAsync(instance, StringArg(args, "password"), cancellationToken);
                    return new { name = credentials.Name, password = credentials.Password };
                case GuestMethods.DisableRoot:
                    await manager.DisableRootAsync(instance, cancellationToken);
                    return new { };
                case GuestMethods.Status:
                    return new { status = (await manager.ProbeAsync(instance, cancellationToken)).ToTroveName() };
                case GuestMethods.ListDatabases:
                    return new DatabasesArguments(await manager.ListDatabasesAsync(instance, cancellationToken));
                case GuestMethods.CreateDatabase:
                    await manager.CreateDatabasesAsync(instance, GuestArguments.Read<DatabasesArguments>(args).Databases, cancellationToken);
                    return new { };
                case GuestMethods.DeleteDatabase:
                    await manager.DeleteDatabaseAsync(instance, GuestArguments.Read<DatabaseArguments>(args).Name, cancellationToken);
                    return new { };
                case GuestMethods.ListUsers:
                    return new { users = await manager.ListUsersAsync(instance, cancellationToken) };
                case GuestMethods.CreateUser:
                    await manager.CreateUsersAsync(instance, GuestArguments.Read<UsersArguments>(args).Users, cancellationToken);
                    return new { };
                case GuestMethods.DeleteUser:
                    await manager.DeleteUserAsync(instance, GuestArguments.Read<UserArguments>(args).User, cancellationToken);
                    return new { };
                case GuestMethods.UpdateAttributes:
                    var update = GuestArguments.Read<UserArguments>(args);
                    await manager.UpdateUserAsync(instance, update.User, update.Change ?? new UserChange(), cancellationToken);
                    return new { };
                case GuestMethods.ChangePasswords:
                    await manager.ChangePasswordsAsync(instance, GuestArguments.Read<PasswordsArguments>(args).Changes, cancellationToken);
                    return new { };
                case GuestMethods.GrantAccess:
                    var grant = GuestArguments.Read<UserArguments>(args);
                    await manager.GrantAccessAsync(instance, grant.User, grant.Databases, cancellationToken);
                    return new { };
                case GuestMethods.RevokeAccess:
                    var revoke = GuestArguments.Read<UserArguments>(args);
                    await manager.RevokeAccessAsync(instance, revoke.User, revoke.Database ?? throw new ArgumentException("revoke_access names no database"), cancellationToken);
                    return new { };
                case GuestMethods.GetNodeIp:
                    return await ClusterManager(slot).GetNodeAsync(instance, cancellationToken);
                case GuestMethods.GetNodeIdForRemoval:
                    return new NodeIdForRemoval(await ClusterManager(slot).GetNodeIdForRemovalAsync(instance, cancellationToken));
                case GuestMethods.RemoveNodes:
                    await ClusterManager(slot).RemoveNodesAsync(instance, GuestArguments.Read<RemoveNodesArguments>(args).NodeIds, cancellationToken);
                    return new { };
                case GuestMethods.ClusterMeet:
                    var meet = GuestArguments.Read<MeetArguments>(args);
                    await ClusterManager(slot).MeetAsync(instance, meet.Ip, meet.Port, cancellationToken);
                    return new { };
                case GuestMethods.ClusterAddSlots:
                    var addSlots = GuestArguments.Read<AddSlotsArguments>(args);
                    await ClusterManager(slot).AddSlotsAsync(instance, addSlots.FirstSlot, addSlots.LastSlot, cancellationToken);
                    return new { };
                case GuestMethods.ClusterReplicate:
                    await ClusterManager(slot).ReplicateAsync(instance, GuestArguments.Read<ReplicateArguments>(args).MasterNodeId, cancellationToken);
                    return new { };
                case GuestMethods.ClusterNodes:
                    return await ClusterManager(slot).GetTopologyAsync(instance, cancellationToken);
                case GuestMethods.ClusterMoveSlots:
                    return await ClusterManager(slot).MoveSlotsAsync(instance, GuestArguments.Read<SlotMove>(args), cancellationToken);
                case GuestMethods.ClusterComplete:
                    await ClusterManager(slot).CompleteAsync(instance, cancellationToken);
                    return new { };
                case GuestMethods.CreateBackup:
                    return await BackupRunner.CreateAsync(Backups(slot), instance, GuestArguments.Read<CreateBackupArguments>(args), cancellationToken);
                case GuestMethods.RestoreBackup:
                    await BackupRunner.RestoreAsync(Backups(slot), instance, GuestArguments.Read<RestoreBackupArguments>(args), cancellationToken);
                    return new { };
                case GuestMethods.ApplyConfiguration:
                    var restart = await Configuration(slot).ApplyConfigurationAsync(instance, GuestArguments.Read<ConfigurationArguments>(args).Values, cancellationToken);
                    slot.SetRestartRequired(restart);
                    await SetStatusAsync(slot, ServiceStatus.Running, cancellationToken);
                    return new ConfigurationApplied(restart);
                case GuestMethods.GetConfiguration:
                    return new EffectiveConfiguration(await Configuration(slot).GetEffectiveConfigurationAsync(instance, cancellationToken));
                case GuestMethods.GuestLogList:
                    return await GuestLogReader.ListAsync(Logs(slot), instance, cancellationToken);
                case GuestMethods.GuestLogEnable:
                    return await GuestLogReader.EnableAsync(Logs(slot), instance, GuestArguments.Read<GuestLogEnableArguments>(args), cancellationToken);
                case GuestMethods.GuestLogRead:
                    return await GuestLogReader.ReadAsync(Logs(slot), instance, GuestArguments.Read<GuestLogReadArguments>(args), cancellationToken);
                default:
                    throw new InvalidOperationException($"unknown guest method '{method}'");
            }
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    private static IDatastoreBackups Backups(InstanceSlot slot) =>
        slot.Manager as IDatastoreBackups
        ?? throw DatastoreOperationException.NotSupported($"The {slot.Instance.Datastore} datastore has no backup strategy.");

    /// <summary>A datastore's manager, made only when the agent first needs one of it.</summary>
    private IDatastoreManager ManagerFor(string datastore) =>
        _managers.GetOrAdd(datastore, name => _plugins.Get<IDatastorePlugin>(PluginKind.Datastore, name).CreateManager(_loggerFactory));

    private static IDatastoreLogs Logs(InstanceSlot slot) =>
        slot.Manager as IDatastoreLogs
        ?? throw DatastoreOperationException.NotSupported($"The {slot.Instance.Datastore} datastore exposes no logs.");

    private static IDatastoreConfiguration Configuration(InstanceSlot slot) =>
        slot.Manager as IDatastoreConfiguration
        ?? throw DatastoreOperationException.NotSupported($"The {slot.Instance.Datastore} datastore has no configuration groups.");

    /// <summary>
    /// The parameters a datastore version accepts, asked of a scratch server the agent starts on a free loopback port and
    /// destroys again (one at a time per agent; the answer is kept, a version's rules do not change while it runs).
    /// </summary>
    private async Task<DiscoveredParameters> DiscoverParametersAsync(DiscoverParametersArguments args, CancellationToken cancellationToken)
    {
        var key = $"{args.Datastore}/{args.Version}";
        if (_parameters.TryGetValue(key, out var known))
        {
            return known;
        }

        await _scratchGate.WaitAsync(cancellationToken);
        try
        {
            if (_parameters.TryGetValue(key, out known))
            {
                return known;
            }

            var manager = ManagerFor(args.Datastore);
            if (manager is not IDatastoreConfiguration configuration)
            {
                throw DatastoreOperationException.NotSupported($"The {args.Datastore} datastore has no configuration groups.");
            }

            var id = Guid.NewGuid().ToString();
            var scratch = new GuestInstance
            {
                Id = id,
                Datastore = args.Datastore,
                Version = args.Version,
                Directory = Path.Combine(_options.PoolDir, "scratch", id),
                Address = "127.0.0.1",
                Port = FreeLoopbackPort(),
                RamMb = 256,
                Options = args.Options,
            };
            // Written first, so an agent killed meanwhile finds the server at its next start and destroys it.
            Directory.CreateDirectory(scratch.Directory);
            await File.WriteAllTextAsync(scratch.Directory + ".json", JsonSerializer.Serialize(scratch, GuestArguments.Json), cancellationToken);
            try
            {
                await manager.PrepareAsync(scratch, cancellationToken);
                var discovered = new DiscoveredParameters(await configuration.DiscoverParametersAsync(scratch, cancellationToken));
                _parameters[key] = discovered;
                Log.ParametersDiscovered(_logger, args.Datastore, args.Version, discovered.Parameters.Count);
                return discovered;
            }
            finally
            {
                await DestroyScratchAsync(manager, scratch);
            }
        }
        finally
        {
            _scratchGate.Release();
        }
    }

    private static async Task DestroyScratchAsync(IDatastoreManager manager, GuestInstance scratch)
    {
        await manager.DestroyAsync(scratch, CancellationToken.None);
        if (Directory.Exists(scratch.Directory))
        {
            Directory.Delete(scratch.Directory, recursive: true);
        }

        File.Delete(scratch.Directory + ".json");
    }

    /// <summary>Destroys the scratch servers an agent killed mid-discovery left running.</summary>
    private async Task RemoveScratchLeftoversAsync()
    {
        var root = Path.Combine(_options.PoolDir, "scratch");
        if (!Directory.Exists(root))
        {
            return;
        }

        foreach (var file in Directory.EnumerateFiles(root, "*.json"))
        {
            try
            {
                var scratch = JsonSerializer.Deserialize<GuestInstance>(await File.ReadAllTextAsync(file), GuestArguments.Json)
                    ?? throw new InvalidDataException($"{file} is empty");
                var manager = ManagerFor(scratch.Datastore);
                await DestroyScratchAsync(manager, scratch);
            }
            catch (Exception e) when (e is IOException or JsonException or InvalidDataException or KeyNotFoundException or DatastoreOperationException)
            {
                Log.LoadFailed(_logger, e, file);
            }
        }
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static IClusterManager ClusterManager(InstanceSlot slot) =>
        slot.Manager as IClusterManager
        ?? throw DatastoreOperationException.NotSupported($"The {slot.Instance.Datastore} datastore has no clusters of its own.");

    /// <summary>
    /// The databases and users of the create request. A prepare retried after a crash finds some made
    /// already; it makes only the missing ones, so a retry neither fails nor changes a password twice.
    /// </summary>
    private static async Task CreateInitialSchemaAsync(IDatastoreManager manager, GuestInstance instance, PrepareArguments prepare, CancellationToken cancellationToken)
    {
        if (prepare.Databases.Count > 0)
        {
            var existing = (await manager.ListDatabasesAsync(instance, cancellationToken)).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
            var missing = prepare.Databases.Where(d => !existing.Contains(d.Name)).ToList();
            if (missing.Count > 0)
            {
                await manager.CreateDatabasesAsync(instance, missing, cancellationToken);
            }
        }

        if (prepare.Users.Count > 0)
        {
            var existing = (await manager.ListUsersAsync(instance, cancellationToken)).Select(u => new UserRef(u.Name, u.Host)).ToHashSet();
            var missing = prepare.Users.Where(u => !existing.Contains(u.Ref)).ToList();
            if (missing.Count > 0)
            {
                await manager.CreateUsersAsync(instance, missing, cancellationToken);
            }
        }
    }

    private async Task DestroyAsync(InstanceSlot slot, CancellationToken cancellationToken)
    {
        await slot.Gate.WaitAsync(cancellationToken);
        try
        {
            slot.Destroyed = true;
            await slot.Manager.DestroyAsync(slot.Instance, cancellationToken);

            if (Directory.Exists(slot.Instance.Directory))
            {
                Directory.Delete(slot.Instance.Directory, recursive: true);
            }

            _slots.TryRemove(slot.Instance.Id, out _);
            Log.Destroyed(_logger, slot.Instance.Id);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    private async Task SuperviseAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.SupervisionInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                foreach (var slot in _slots.Values)
                {
                    if (slot.Destroyed || !slot.Prepared || slot.Gate.CurrentCount == 0)
                    {
                        continue;
                    }

                    if (!slot.Manager.IsProcessAlive(slot.Instance))
                    {
                        _ = RecoverAsync(slot, cancellationToken);
                    }
                    else
                    {
                        // Started again by a call (start_db, restart) while a restart was being held back.
                        slot.DeadSince = null;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RecoverAsync(InstanceSlot slot, CancellationToken cancellationToken)
    {
        if (!await slot.Gate.WaitAsync(0, cancellationToken))
        {
            return;
        }

        try
        {
            if (slot.Destroyed || slot.Manager.IsProcessAlive(slot.Instance))
            {
                slot.DeadSince = null;
                return;
            }

            // A dead cluster member comes back only after its replica had time to take over, so it rejoins as a
            // replica instead of fighting over its slots. The control plane hears of the crash at once all the same.
            var delay = slot.Manager is IClusterManager cluster ? cluster.CrashRestartDelay(slot.Instance) : TimeSpan.Zero;
            if (delay > TimeSpan.Zero)
            {
                if (slot.DeadSince is not long since)
                {
                    slot.DeadSince = Stopwatch.GetTimestamp();
                    Log.RestartHeldBack(_logger, slot.Instance.Id, delay);
                    await SetStatusAsync(slot, ServiceStatus.Crashed, cancellationToken);
                    return;
                }

                if (Stopwatch.GetElapsedTime(since) < delay)
                {
                    return;
                }
            }

            Log.Restarting(_logger, slot.Instance.Id);
            await SetStatusAsync(slot, ServiceStatus.Crashed, cancellationToken);
            await slot.Manager.StartAsync(slot.Instance, cancellationToken);
            slot.SetRestartRequired(false);
            slot.DeadSince = null;
            await SetStatusAsync(slot, ServiceStatus.Running, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.RestartFailed(_logger, e, slot.Instance.Id);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    /// <summary>Records a status and, when it changed, tells the control plane at once rather than at the next heartbeat.</summary>
    private async Task SetStatusAsync(InstanceSlot slot, ServiceStatus status, CancellationToken cancellationToken)
    {
        // A running server with configuration values that wait for a restart says so (Trove's RESTART_REQUIRED).
        if (status == ServiceStatus.Running && slot.RestartRequired)
        {
            status = ServiceStatus.RestartRequired;
        }

        if (slot.Status == status)
        {
            return;
        }

        slot.Status = status;
        await TrySendAsync(new GuestMessage { Type = GuestMessageTypes.Heartbeat, Statuses = new() { [slot.Instance.Id] = status.ToTroveName() } }, cancellationToken);
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(_heartbeatInterval, cancellationToken);
                var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var slot in _slots.Values)
                {
                    // The supervision pass keeps each status current (it marks a dead server CRASHED as
                    // it restarts it), so a heartbeat only reports; it checks no process itself.
                    if (!slot.Destroyed && slot.Prepared)
                    {
                        statuses[slot.Instance.Id] = slot.Status.ToTroveName();
                    }
                }

                await TrySendAsync(new GuestMessage { Type = GuestMessageTypes.Heartbeat, Statuses = statuses }, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Tells every connected replica (heartbeats, status changes); one that is down hears it when it reconnects.</summary>
    /// <remarks>At once, so a replica whose socket stalls delays no other's heartbeat.</remarks>
    private Task TrySendAsync(GuestMessage message, CancellationToken cancellationToken) =>
        Task.WhenAll(_links.Select(async link =>
        {
            try
            {
                await SendAsync(link, message, cancellationToken);
            }
            catch (Exception e) when (e is WebSocketException or InvalidOperationException or IOException)
            {
                // that replica is down or reconnecting
            }
        }));

    private static async Task SendAsync(ControlPlaneLink link, GuestMessage message, CancellationToken cancellationToken)
    {
        var socket = link.Socket ?? throw new InvalidOperationException($"not connected to the control plane at {link.Url}");
        await GuestSocket.SendAsync(socket, link.SendLock, message, cancellationToken);
    }

    /// <summary>One control-plane replica and the connection to it.</summary>
    private sealed class ControlPlaneLink(Uri url)
    {
        public Uri Url { get; } = url;

        public ClientWebSocket? Socket { get; set; }

        public SemaphoreSlim SendLock { get; } = new(1, 1);
    }

    private static string? StringArg(JsonElement? args, string name) =>
        args is { ValueKind: JsonValueKind.Object } a && a.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
