namespace Hoard.Testing;

/// <summary>The template folders of the PostgreSQL and MariaDB plugins, as tests clean them up.</summary>
public static class TemplateFolders
{
    /// <summary>
    /// Waits until the background spare copies of every template in <paramref name="folder"/> are made (the plugins'
    /// default of two each), so the folder can be removed without pulling it from under a copy in progress.
    /// </summary>
    public static async Task SettleSparesAsync(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return;
        }

        foreach (var template in Directory.GetDirectories(folder).Where(d => !d.Contains(".spare-", StringComparison.Ordinal) && !d.Contains(".making-", StringComparison.Ordinal)))
        {
            await Timeouts.EventuallyAsync(
                () => Task.FromResult(
                    Directory.GetDirectories(folder, "*.making-*").Length == 0
                    && Directory.GetDirectories(folder, Path.GetFileName(template) + ".spare-*").Length >= 2),
                settled => settled,
                Timeouts.Cli,
                $"the spare copies of {template}");
        }
    }
}
