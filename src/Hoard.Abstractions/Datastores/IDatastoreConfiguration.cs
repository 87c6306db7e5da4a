namespace Hoard.Abstractions.Datastores;

/// <summary>The kinds of value a configuration parameter takes (Trove's parameter types).</summary>
public static class ParameterTypes
{
    public const string Integer = "integer";
    public const string Float = "float";
    public const string Boolean = "boolean";
    public const string String = "string";
}

/// <summary>
/// One parameter a datastore version accepts in a configuration group, with the rules its values must keep — read
/// from the engine itself (Redis CONFIG GET *, PostgreSQL pg_settings, MariaDB information_schema.SYSTEM_VARIABLES),
/// never typed by hand.
/// </summary>
/// <param name="Name">As the engine names it.</param>
/// <param name="Type">One of <see cref="ParameterTypes"/>.</param>
/// <param name="RestartRequired">True when a new value takes effect only after a restart.</param>
/// <param name="Min">The least value, for numbers, when the engine says.</param>
/// <param name="Max">The greatest value, for numbers, when the engine says.</param>
/// <param name="AllowedValues">For an enumeration: the values it accepts (case as the engine reports them).</param>
public sealed record ConfigurationParameter(
    string Name, string Type, bool RestartRequired, decimal? Min = null, decimal? Max = null, IReadOnlyList<string>? AllowedValues = null);

/// <summary>
/// A datastore manager's configuration groups: which parameters exist, and applying values to an instance. Values are
/// strings as a user writes them (numbers with the engine's units where it has them, e.g. "64MB" stays the user's
/// problem to spell as the engine accepts); the control plane validates them against <see cref="ConfigurationParameter"/>
/// rules before any reaches a guest.
/// </summary>
public interface IDatastoreConfiguration
{
    /// <summary>
    /// The parameters of the instance's engine version, read from the running engine. Parameters that would let a
    /// configuration group take the instance away from the control plane (addresses, ports, files, directories,
    /// authentication, replication and cluster wiring) are left out.
    /// </summary>
    Task<IReadOnlyList<ConfigurationParameter>> DiscoverParametersAsync(GuestInstance instance, CancellationToken cancellationToken);

    /// <summary>
    /// Makes <paramref name="values"/> the instance's configuration group values (replacing the previous group's;
    /// parameters no longer set go back to the engine's defaults): persisted so a restart keeps them, and the dynamic
    /// ones applied to the running server at once. Returns true when a restart is needed for the rest to take effect.
    /// </summary>
    Task<bool> ApplyConfigurationAsync(GuestInstance instance, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken);

    /// <summary>The running server's value of every discoverable parameter (what `configuration default` shows).</summary>
    Task<IReadOnlyDictionary<string, string>> GetEffectiveConfigurationAsync(GuestInstance instance, CancellationToken cancellationToken);
}
