namespace Hoard.Core.Configuration;

/// <summary>
/// <c>[profiler]</c>: OSProfiler's options of the same names. A request is traced only when profiling is enabled
/// and it carries a trace header signed with one of the HMAC keys.
/// </summary>
public sealed record ProfilerOptions
{
    public const string Section = "profiler";

    public static readonly ProfilerOptions Disabled = new();

    public static IReadOnlyList<OptionDefinition> Definitions { get; } =
    [
        new(Section, "enabled", "boolean", "false", "Trace requests that carry an X-Trace-Info header signed with one of hmac_keys (openstack --os-profile KEY, trove --profile KEY). Off, no trace point is ever made."),
        new(Section, "hmac_keys", "list", "", "Secret keys a trace header may be signed with, comma-separated; a header signed with another key, or malformed, is ignored. Never written to a trace."),
        new(Section, "connection_string", "uri", "", "Where trace points go and are read back from: sqlite:///path/traces.db (embedded; empty means DATA_DIR/traces.db), redis://[:password@]host[:port][/db] (OSProfiler's Redis layout, so the osprofiler CLI reads them), postgresql://user:password@host[:port]/database, or otlp://host[:4318][?query=http://jaeger:16686] (OpenTelemetry spans over OTLP/HTTP, read back through a Jaeger query service). An unknown scheme stops start-up."),
        new(Section, "trace_store", "boolean", "false", "Also trace each management-store call of a traced request or task (OSProfiler's trace_sqlalchemy)."),
        new(Section, "buffer_size", "integer", "10000", "Trace points held for the background writer; when full, new points are dropped and counted, so a slow or dead backend never slows a request."),
    ];

    public bool Enabled { get; init; }

    /// <summary>Secret: never logged, never a tag.</summary>
    public IReadOnlyList<string> HmacKeys { get; init; } = [];

    /// <summary>May hold a password: report only its scheme.</summary>
    public string ConnectionString { get; init; } = string.Empty;

    public bool TraceStore { get; init; }

    public int BufferSize { get; init; } = 10000;

    /// <summary>The embedded trace backend: a SQLite file in the data directory.</summary>
    public static string DefaultConnection(string dataDir) => "sqlite://" + Path.GetFullPath(Path.Combine(dataDir, "traces.db"));

    public static ProfilerOptions From(HoardConfiguration config, string dataDir)
    {
        ArgumentNullException.ThrowIfNull(config);
        var enabled = config.GetBool(Section, "enabled");
        var keys = config.GetString(Section, "hmac_keys").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var connection = config.GetString(Section, "connection_string").Trim();
        if (connection.Length == 0)
        {
            connection = DefaultConnection(dataDir);
        }

        var buffer = config.GetInt(Section, "buffer_size");
        if (buffer < 1)
        {
            throw new ConfigurationException("[profiler] buffer_size must be positive");
        }

        if (enabled)
        {
            if (keys.Length == 0)
            {
                throw new ConfigurationException("[profiler] enabled needs hmac_keys: without a key no request can ask to be traced");
            }

            if (!Uri.TryCreate(connection, UriKind.Absolute, out _))
            {
                throw new ConfigurationException("[profiler] connection_string is not <backend>://[[user[:password]]@[address][:port][/database]]");
            }
        }

        return new ProfilerOptions
        {
            Enabled = enabled,
            HmacKeys = keys,
            ConnectionString = connection,
            TraceStore = config.GetBool(Section, "trace_store"),
            BufferSize = buffer,
        };
    }
}
