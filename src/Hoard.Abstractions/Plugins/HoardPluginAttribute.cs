namespace Hoard.Abstractions.Plugins;

/// <summary>What kind of extension point a plugin fills.</summary>
public enum PluginKind
{
    Datastore,
    Store,
    Compute,
    Trace,
}

/// <summary>
/// Declares a plugin in its own assembly, so the registry finds it by scanning
/// assemblies rather than through a hand-kept list.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class HoardPluginAttribute(string name, PluginKind kind, Type pluginType) : Attribute
{
    public string Name { get; } = name;

    public PluginKind Kind { get; } = kind;

    /// <summary>A type with a public parameterless constructor implementing the kind's plugin interface.</summary>
    public Type PluginType { get; } = pluginType;
}
