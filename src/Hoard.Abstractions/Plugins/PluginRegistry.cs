using System.Reflection;

namespace Hoard.Abstractions.Plugins;

/// <summary>A plugin found through its assembly's <see cref="HoardPluginAttribute"/>.</summary>
public sealed record PluginDescriptor(string Name, PluginKind Kind, Type Type);

/// <summary>
/// Finds plugins by scanning the Hoard.*.dll assemblies beside the executable for
/// <see cref="HoardPluginAttribute"/>: adding an engine or a backend is adding an assembly, not editing a list.
/// </summary>
public sealed class PluginRegistry
{
    private readonly Dictionary<(PluginKind, string), PluginDescriptor> _plugins = [];
    private readonly Dictionary<(PluginKind, string), object> _instances = [];
    private readonly Lock _lock = new();

    public PluginRegistry(IEnumerable<Assembly> assemblies)
    {
        foreach (var assembly in assemblies)
        {
            foreach (var attribute in assembly.GetCustomAttributes<HoardPluginAttribute>())
            {
                _plugins[(attribute.Kind, attribute.Name)] = new PluginDescriptor(attribute.Name, attribute.Kind, attribute.PluginType);
            }
        }
    }

    /// <summary>The assembly name prefixes that hold plugins, one per extension point (see the src/ folders).</summary>
    public static readonly string[] PluginAssemblyPrefixes = ["Hoard.Datastores.", "Hoard.Storage.", "Hoard.Compute.", "Hoard.Profiling."];

    /// <summary>Scans the plugin assemblies in the directory the application runs from.</summary>
    public static PluginRegistry FromApplicationDirectory()
    {
        var assemblies = new List<Assembly>();
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "Hoard.*.dll"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (!PluginAssemblyPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
            {
                continue;
            }

            assemblies.Add(System.Runtime.Loader.AssemblyLoadContext.Default.LoadFromAssemblyPath(file));
        }

        return new PluginRegistry(assemblies);
    }

    public IEnumerable<PluginDescriptor> OfKind(PluginKind kind) => _plugins.Values.Where(p => p.Kind == kind).OrderBy(p => p.Name);

    /// <summary>The single instance of a plugin, created on first use.</summary>
    public T Get<T>(PluginKind kind, string name)
        where T : class
    {
        lock (_lock)
        {
            if (_instances.TryGetValue((kind, name), out var existing))
            {
                return (T)existing;
            }

            if (!_plugins.TryGetValue((kind, name), out var descriptor))
            {
                var known = string.Join(", ", OfKind(kind).Select(p => p.Name));
                throw new KeyNotFoundException($"no {kind.ToString().ToLowerInvariant()} plugin named '{name}' (known: {known})");
            }

            var instance = Activator.CreateInstance(descriptor.Type)
                ?? throw new InvalidOperationException($"could not create plugin {descriptor.Type}");
            _instances[(kind, name)] = instance;
            return (T)instance;
        }
    }

    public IEnumerable<T> All<T>(PluginKind kind)
        where T : class => OfKind(kind).Select(p => Get<T>(kind, p.Name));
}
