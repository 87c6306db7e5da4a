using System.Globalization;

namespace Hoard.Profiling.Otlp;

/// <summary>
/// What <c>otlp://host[:port][?query=http://jaeger:16686][&amp;service=hoard][&amp;timeout=10][&amp;tls=true]</c> says:
/// where to POST spans (OTLP/HTTP, JSON encoding, <c>/v1/traces</c>; port 4318 unless given), the <c>service.name</c>
/// they carry, how long one call may take, and where to read them back (a Jaeger query service), if anywhere.
/// </summary>
public sealed record OtlpTraceSettings
{
    public const int DefaultPort = 4318;
    public const string DefaultService = "hoard";
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    internal const string Usage = "use otlp://host[:port][?query=http://jaeger-host:16686] (port: the OTLP/HTTP receiver, 4318 by default)";

    /// <summary>The OTLP/HTTP traces endpoint, <c>http[s]://host:port/v1/traces</c>.</summary>
    public required Uri Endpoint { get; init; }

    /// <summary>The Jaeger query service traces are read back from, or null when they cannot be read back here.</summary>
    public Uri? Query { get; init; }

    /// <summary>The resource attribute <c>service.name</c> of every span, and the service the Jaeger query lists.</summary>
    public string Service { get; init; } = DefaultService;

    /// <summary>How long one export or query may take before it fails (the profiler's writer then counts the batch dropped).</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>
    /// Parses the connection string; a bad one is an <see cref="ArgumentException"/> that names what is wrong and
    /// repeats no part of the string that could hold a password.
    /// </summary>
    public static OtlpTraceSettings Parse(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri || uri.Scheme != "otlp")
        {
            throw new ArgumentException($"not an otlp connection string; {Usage}");
        }

        if (string.IsNullOrEmpty(uri.IdnHost))
        {
            throw new ArgumentException($"the connection string names no host; {Usage}");
        }

        if (uri.UserInfo.Length > 0)
        {
            throw new ArgumentException($"an otlp connection string takes no user or password before the host; {Usage}");
        }

        if (uri.AbsolutePath is not ("" or "/"))
        {
            throw new ArgumentException($"an otlp connection string takes no path (spans go to /v1/traces); {Usage}");
        }

        if (uri.Fragment.Length > 0)
        {
            throw new ArgumentException($"an otlp connection string takes no fragment; {Usage}");
        }

        Uri? query = null;
        var service = DefaultService;
        var timeout = DefaultTimeout;
        var tls = false;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? string.Empty : Uri.UnescapeDataString(pair[(equals + 1)..]);
            switch (key)
            {
                case "query":
                    query = Uri.TryCreate(value, UriKind.Absolute, out var q) && q.Scheme is "http" or "https" && q.Host.Length > 0
                        ? q
                        : throw new ArgumentException($"query must be the http:// or https:// address of a Jaeger query service (such as http://jaeger-host:16686); {Usage}");
                    break;
                case "service":
                    service = value.Length > 0 ? value : throw new ArgumentException($"service names no service; {Usage}");
                    break;
                case "timeout":
                    timeout = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= 300
                        ? TimeSpan.FromSeconds(seconds)
                        : throw new ArgumentException($"timeout '{value}' is not a number of seconds between 0 and 300; {Usage}");
                    break;
                case "tls":
                    tls = value switch
                    {
                        "true" or "1" => true,
                        "false" or "0" => false,
                        _ => throw new ArgumentException($"tls '{value}' is not true or false; {Usage}"),
                    };
                    break;
                default:
                    throw new ArgumentException($"unknown otlp connection option '{key}' (known: query, service, timeout, tls); {Usage}");
            }
        }

        var port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port;
        return new OtlpTraceSettings
        {
            Endpoint = new UriBuilder(tls ? "https" : "http", uri.IdnHost, port, "/v1/traces").Uri,
            Query = query,
            Service = service,
            Timeout = timeout,
        };
    }
}
