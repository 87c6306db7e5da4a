namespace Hoard.Cli.Client;

/// <summary>
/// Where the CLI finds its credentials: the same OS_* variables the openstack client reads, or, when they
/// are not set, the admin-openrc that `hoard serve` wrote into its data directory.
/// </summary>
public sealed record ClientSettings(string AuthUrl, string UserName, string Password, string ProjectName)
{
    public static ClientSettings Load()
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in new[] { "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME" })
        {
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } value)
            {
                values[name] = value;
            }
        }

        if (values.Count < 4)
        {
            var dataDir = Environment.GetEnvironmentVariable("HOARD_DEFAULT_DATA_DIR")
                ?? (Environment.IsPrivilegedProcess ? "/var/lib/hoard" : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".hoard"));
            var openrc = Path.Combine(dataDir, "admin-openrc");
            if (File.Exists(openrc))
            {
                foreach (var line in File.ReadAllLines(openrc))
                {
                    var text = line.Trim();
                    if (!text.StartsWith("export ", StringComparison.Ordinal) || !text.Contains('=', StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var eq = text.IndexOf('=', StringComparison.Ordinal);
                    var key = text[7..eq];
                    var value = text[(eq + 1)..].Trim('\'', '"');
                    values.TryAdd(key, value);
                }
            }
        }

        string Get(string key) => values.TryGetValue(key, out var v)
            ? v
            : throw new InvalidOperationException($"{key} is not set; source the admin-openrc that 'hoard serve' wrote (e.g. '. ~/.hoard/admin-openrc', or '. /var/lib/hoard/admin-openrc' as root).");
        return new ClientSettings(Get("OS_AUTH_URL").TrimEnd('/'), Get("OS_USERNAME"), Get("OS_PASSWORD"), Get("OS_PROJECT_NAME"));
    }
}
