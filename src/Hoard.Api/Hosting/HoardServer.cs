using Hoard.Abstractions.Compute;
using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Storage;
using Hoard.Abstractions.Tracing;
using Hoard.Api.Apis;
using Hoard.Api.Guests;
using Hoard.Api.Identity;
using Hoard.Api.Views;
using Hoard.Core;
using Hoard.Core.Backups;
using Hoard.Core.Catalog;
using Hoard.Core.Clusters;
using Hoard.Core.Configuration;
using Hoard.Core.Configurations;
using Hoard.Core.Guests;
using Hoard.Core.Identity;
using Hoard.Core.Instances;
using Hoard.Core.Metrics;
using Hoard.Core.Placement;
using Hoard.Core.Profiling;
using Hoard.Core.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Hoard.Api.Hosting;

/// <summary>Builds the control plane: the API, identity, task engine, conductor and guest endpoint in one process.</summary>
public static class HoardServer
{
    public static WebApplication Build(HoardOptions options, IManagementStore store, PluginRegistry plugins, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "hoard" });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Parse(options.ListenHost == "localhost" ? "127.0.0.1" : options.ListenHost), options.ListenPort);
            k.Limits.MaxRequestBodySize = TroveHttp.MaxBodyBytes;
            k.AddServerHeader = false;
        });

        var metrics = new HoardMetrics();
        if (options.MetricsEnabled)
        {
            store = TimedStore.Wrap(store, metrics);
        }

        if (options.Profiler is { Enabled: true, TraceStore: true })
        {
            store = TracedStore.Wrap(store);
        }

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(store);
        services.AddSingleton(plugins);
        services.AddSingleton(metrics);
        if (options.MetricsEnabled)
        {
            services.AddHoardMetrics();
        }

        services.AddSingleton(GuestSecrets.LoadOrCreate(Path.Combine(options.DataDir, "master.key")));
        services.AddSingleton<IdentityService>();
        services.AddSingleton<CatalogService>();
        services.AddSingleton(sp => new ViewBuilder(sp.GetRequiredService<CatalogService>(), options.PublicUrl, options.Region));
        services.AddSingleton(sp => new ComputePools(PoolDriverFactory(options, plugins, sp.GetRequiredService<ILoggerFactory>())));
        services.AddSingleton<PlacementService>();
        services.AddSingleton<Conductor>();
        services.AddSingleton<GuestHub>();
        services.AddSingleton<AgentSupervisor>();
        services.AddSingleton<InstanceTaskContext>();
        services.AddSingleton<ITaskHandler, CreateInstanceHandler>();
        services.AddSingleton<ITaskHandler, DeleteInstanceHandler>();
        services.AddSingleton<ITaskHandler, RestartInstanceHandler>();
        services.AddSingleton<ClusterSteps>();
        services.AddSingleton<ITaskHandler, CreateClusterHandler>();
        services.AddSingleton<ITaskHandler, GrowClusterHandler>();
        services.AddSingleton<ITaskHandler, ShrinkClusterHandler>();
        services.AddSingleton<ITaskHandler, RebalanceClusterHandler>();
        services.AddSingleton<ITaskHandler, DeleteClusterHandler>();
        services.AddSingleton<Hoard.Core.Quotas.QuotaService>();
        services.AddSingleton<ProjectRateLimiter>();
        services.AddSingleton<BackupVault>();
        services.AddSingleton<BackupService>();
        services.AddSingleton<BackupRetention>();
        services.AddSingleton<BackupScheduleService>();
        services.AddSingleton<BackupScheduler>();
        services.AddSingleton<ITaskHandler, CreateBackupHandler>();
        services.AddSingleton<ITaskHandler, DeleteBackupHandler>();
        services.AddSingleton<ParameterCatalog>();
        services.AddSingleton<ConfigurationService>();
        services.AddSingleton(sp => new Hoard.Core.Logs.ObjectStore(Path.Combine(options.DataDir, "object-store"), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<Hoard.Core.Logs.GuestLogService>();
        services.AddSingleton<ITaskHandler, ApplyConfigurationHandler>();
        services.AddSingleton<TaskEngine>();
        services.AddSingleton<InstanceService>();
        services.AddSingleton<SchemaService>();
        services.AddSingleton<ClusterService>();
        services.AddSingleton<WarmMembers>();
        services.AddHostedService<ControlPlaneLoops>();
        if (options.Profiler.Enabled)
        {
            var driver = TraceDrivers.Open(new Uri(options.Profiler.ConnectionString), plugins, "[profiler] connection_string");
            services.AddSingleton(sp => new Profiler(options.Profiler, driver, sp.GetRequiredService<ILogger<Profiler>>()));
        }

        var app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(metrics.Dispose);
        if (options.MetricsEnabled)
        {
            app.UseHoardMetrics();
        }

        if (app.Services.GetService<Profiler>() is { } profiler)
        {
            // Created now, not on first use: its listener must exist before the first request is traced.
            profiler.Start();
            app.UseRequestTracing(profiler);

            // Once requests and tasks have stopped, what the buffer holds is written (bounded) before the process exits.
            app.Lifetime.ApplicationStopped.Register(() => profiler.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5)));
        }

        app.UseExceptionHandler(errors => errors.Run(WriteErrorAsync));
        app.UseWebSockets();
        app.MapVersionsApi();
        app.MapIdentityApi();
        app.MapGuestEndpoint();
        app.MapObjectStoreApi();
        // Rate limits count only the Trove routes, per the token's project (so after TenantFilter); identity, /metrics
        // and the guest endpoint are outside this group.
        var tenant = app.MapGroup("/v1.0/{tenant}")
            .AddEndpointFilter(TenantFilter.AuthenticateAsync)
            .AddEndpointFilter(ProjectRateLimiter.LimitAsync);
        tenant.MapInstancesApi();
        tenant.MapLogsApi();
        tenant.MapSchemaApi();
        tenant.MapClustersApi();
        tenant.MapCatalogApi();
        tenant.MapMgmtApi();
        tenant.MapQuotasApi();
        tenant.MapBackupsApi();
        tenant.MapConfigurationsApi();
        tenant.MapBackupSchedulesApi();
        app.MapFallback((HttpContext http) => TroveHttp.Error(404, "itemNotFound", "The resource could not be found."));
        return app;
    }

    /// <summary>Prepares the store and the catalogue before the server listens.</summary>
    public static async Task<bool> InitializeAsync(WebApplication app, string adminPassword, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.Services;
        await services.GetRequiredService<IManagementStore>().MigrateAsync(cancellationToken);
        var created = await services.GetRequiredService<IdentityService>().BootstrapAsync(adminPassword, cancellationToken);
        await services.GetRequiredService<CatalogService>().RegisterAsync(cancellationToken);
        await services.GetRequiredService<PlacementService>().InitializeAsync(cancellationToken);
        await services.GetRequiredService<Conductor>().LoadAsync(cancellationToken);
        await services.GetRequiredService<ConfigurationService>().ReconcileAsync(cancellationToken);
        return created;
    }

    /// <summary>Makes the driver of a pool of the store, by its URI's scheme, with the pool's options and the server's guest command.</summary>
    private static Func<PoolRecord, IComputeDriver> PoolDriverFactory(HoardOptions options, PluginRegistry plugins, ILoggerFactory loggerFactory) => pool =>
    {
        var uri = new Uri(pool.Uri);
        var driverOptions = PoolOptions.ForDriver(pool);
        driverOptions["guest_command"] = options.GuestCommand;
        var spec = new ComputePoolSpec
        {
            Name = pool.Name,
            Uri = uri,
            ControlPlaneUrls = ControlPlaneUrls(options),
            Options = driverOptions,
        };
        return plugins.Get<IComputeDriverFactory>(PluginKind.Compute, uri.Scheme).Create(spec, loggerFactory);
    };

    /// <summary>
    /// What local agents dial: [DEFAULT] control_plane_urls when several replicas share the pool, else this server's
    /// listen address directly, whatever public_url says.
    /// </summary>
    private static IReadOnlyList<string> ControlPlaneUrls(HoardOptions o)
    {
        var configured = o.Raw.GetString("DEFAULT", "control_plane_urls")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (configured.Length > 0)
        {
            return configured;
        }

        var host = o.ListenHost is "0.0.0.0" or "localhost" ? "127.0.0.1" : o.ListenHost is "::" ? "::1" : o.ListenHost;
        return [host.Contains(':', StringComparison.Ordinal) ? $"http://[{host}]:{o.ListenPort}" : $"http://{host}:{o.ListenPort}"];
    }

    private static async Task WriteErrorAsync(HttpContext http)
    {
        var error = http.Features.Get<IExceptionHandlerFeature>()?.Error;
        var store = http.RequestServices.GetRequiredService<IManagementStore>();
        var result = (error is null ? null : TroveHttp.Refusal(error))
            ?? (error is not null && store.IsUnavailable(error)
                ? TroveHttp.Error(503, "serviceUnavailable", "The management store is unreachable; try again shortly.")
                : TroveHttp.Error(500, "instanceFault", $"Internal Server Error. Please keep this ID to help us figure out what went wrong: ({http.TraceIdentifier})."));
        await result.ExecuteAsync(http);
    }
}

/// <summary>
/// Runs the task engine, the heartbeat sweep, agent supervision, warm cluster members, due backup schedules and token
/// expiry for the life of the server.
/// </summary>
internal sealed partial class ControlPlaneLoops(
    TaskEngine engine,
    BackupScheduler backupScheduler,
    Conductor conductor,
    AgentSupervisor supervisor,
    WarmMembers warmMembers,
    PlacementService placement,
    CatalogService catalog,
    IManagementStore store,
    TimeProvider time,
    ILogger<ControlPlaneLoops> logger) : BackgroundService
{
    /// <summary>How often pools and flavors changed by another replica are picked up.</summary>
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(3);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            Task.Run(() => engine.RunAsync(stoppingToken), stoppingToken),
            Task.Run(() => conductor.RunAsync(stoppingToken), stoppingToken),
            Task.Run(() => supervisor.RunAsync(stoppingToken), stoppingToken),
            Task.Run(() => warmMembers.RunAsync(stoppingToken), stoppingToken),
            Task.Run(() => backupScheduler.RunAsync(stoppingToken), stoppingToken),
            Task.Run(() => PurgeTokensAsync(stoppingToken), stoppingToken),
            Task.Run(() => RefreshAsync(stoppingToken), stoppingToken))
        .ContinueWith(_ => { }, TaskScheduler.Default);

    private async Task RefreshAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RefreshEvery, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await placement.RefreshAsync(stoppingToken);
                await catalog.ReloadAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogRefreshFailed(e);
            }
        }
    }

    [LoggerMessage(1800, LogLevel.Warning, "Could not re-read pools and flavors; trying again shortly")]
    private partial void LogRefreshFailed(Exception error);

    /// <summary>Expired tokens are useless; drop them every ten minutes so the table stays small.</summary>
    private async Task PurgeTokensAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(10), time);
        do
        {
            try
            {
                await store.Identity.PurgeExpiredTokensAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Best effort: expired tokens are refused anyway; the next pass tries again.
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}

/// <summary>Authenticates Trove calls by X-Auth-Token and keeps each caller inside its own project.</summary>
internal static class TenantFilter
{
    public static async ValueTask<object?> AuthenticateAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var identity = http.RequestServices.GetRequiredService<IdentityService>();
        var caller = await identity.ValidateAsync(http.Request.Headers["X-Auth-Token"].ToString(), http.RequestAborted);
        if (caller is null)
        {
            return TroveHttp.Error(401, "unauthorized", "The request you have made requires authentication.");
        }

        var tenant = http.Request.RouteValues["tenant"] as string;
        if (tenant != caller.ProjectId)
        {
            return TroveHttp.Error(403, "forbidden", $"User with tenant id {caller.ProjectId} cannot access this resource.");
        }

        http.Items[TroveHttp.AuthContextKey] = caller;
        try
        {
            return await next(context);
        }
        catch (Exception e) when (TroveHttp.Refusal(e) is { } refusal)
        {
            // A refusal is an answer, not a server error: no stack trace in the log.
            return refusal;
        }
    }
}
