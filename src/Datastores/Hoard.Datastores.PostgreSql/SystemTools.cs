namespace Hoard.Datastores.PostgreSql;

/// <summary>The system programs the manager runs, at their Debian paths (a fresh machine has no symlinks elsewhere).</summary>
internal static class SystemTools
{
    public static string Shell { get; } = Find("sh");

    public static string SetPriv { get; } = Find("setpriv");

    public static string SetSid { get; } = Find("setsid");

    public static string Tar { get; } = Find("tar");

    private static string Find(string name) =>
        new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists)
        ?? Path.Combine("/usr/bin", name);
}
