using Hoard.Abstractions.Plugins;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Configuration;

namespace Hoard.Core.Profiling;

/// <summary>Opens the trace driver of a connection string, for hoard serve and hoard trace alike.</summary>
public static class TraceDrivers
{
    /// <summary>
    /// The driver of <paramref name="connectionString"/>'s scheme. An unknown scheme or a bad string is a
    /// <see cref="ConfigurationException"/> that begins with <paramref name="what"/> and names only the scheme: the
    /// string may hold a password.
    /// </summary>
    public static ITraceDriver Open(Uri connectionString, PluginRegistry plugins, string what)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        ArgumentNullException.ThrowIfNull(plugins);
        try
        {
            return plugins.Get<ITraceDriverFactory>(PluginKind.Trace, connectionString.Scheme).Open(connectionString);
        }
        catch (Exception e) when (e is KeyNotFoundException or ArgumentException)
        {
            throw new ConfigurationException($"{what} '{connectionString.Scheme}://...': {e.Message}");
        }
    }
}
