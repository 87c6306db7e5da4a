using System.Collections.Concurrent;
using Hoard.Abstractions.Datastores;

namespace Hoard.Abstractions.IO;

/// <summary>
/// Ready-made copies ("spares") of a template directory, kept beside it, so a new instance takes one with a
/// rename instead of paying the copy while its user waits: a PostgreSQL data directory is about a thousand
/// files, and creating files is what a busy disk is slowest at. The copy that replaces a taken spare is made
/// after the instance serves, under a temporary name, and appears as a spare only once complete.
/// </summary>
public static class SpareCopies
{
    /// <summary>How many spares a manager keeps when the instance's <c>spare_copies</c> option does not say.</summary>
    public const int DefaultCount = 2;

    private const string SpareInfix = ".spare-";
    private const string MakingInfix = ".making-";

    /// <summary>A copy in the making older than this was abandoned by a process that died mid-copy.</summary>
    private static readonly TimeSpan Abandoned = TimeSpan.FromMinutes(10);

    // One maker per template in a process: a second would only race the first to the same count.
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Makers = new(StringComparer.Ordinal);

    /// <summary>
    /// Moves a ready spare of <paramref name="template"/> to <paramref name="destination"/> (which must not exist).
    /// False when there is none, or when it cannot be renamed there (another file system): the caller copies then.
    /// </summary>
    public static bool TryTake(string template, string destination)
    {
        ArgumentException.ThrowIfNullOrEmpty(template);
        ArgumentException.ThrowIfNullOrEmpty(destination);
        var (folder, prefix) = Split(template, SpareInfix);
        if (!Directory.Exists(folder))
        {
            return false;
        }

        foreach (var spare in Directory.EnumerateDirectories(folder, prefix + "*"))
        {
            try
            {
                Directory.Move(spare, destination);
                return true;
            }
            catch (DirectoryNotFoundException)
            {
                // Another prepare took this one first; try the next.
            }
            catch (IOException)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>
    /// Makes spares of <paramref name="template"/> until <paramref name="count"/> are ready. <paramref name="copy"/>
    /// makes a complete copy at the path it is given (the engine's own copy, which sets ownership and modes).
    /// Returns at once when another maker of this process is at work on the same template.
    /// </summary>
    public static async Task ReplenishAsync(string template, int count, Func<string, CancellationToken, Task> copy, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(template);
        ArgumentNullException.ThrowIfNull(copy);
        if (count <= 0)
        {
            return;
        }

        var gate = Makers.GetOrAdd(template, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(0, cancellationToken))
        {
            return;
        }

        try
        {
            var (folder, sparePrefix) = Split(template, SpareInfix);
            var (_, makingPrefix) = Split(template, MakingInfix);
            foreach (var stale in Directory.EnumerateDirectories(folder, makingPrefix + "*"))
            {
                if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(stale) > Abandoned)
                {
                    Directory.Delete(stale, recursive: true);
                }
            }

            while (Directory.EnumerateDirectories(folder, sparePrefix + "*").Count() < count)
            {
                var id = Guid.NewGuid().ToString("N");
                var making = template + MakingInfix + id;
                try
                {
                    await copy(making, cancellationToken);
                }
                catch
                {
                    if (Directory.Exists(making))
                    {
                        Directory.Delete(making, recursive: true);
                    }

                    throw;
                }

                Directory.Move(making, template + SpareInfix + id);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Remakes the spares of <paramref name="template"/> in the background, as many as the instance's
    /// <c>spare_copies</c> option asks. A failure goes to <paramref name="onFailure"/>: a missing spare costs the
    /// next create a copy, nothing more.
    /// </summary>
    public static void ReplenishInBackground(GuestInstance instance, string template, Func<string, CancellationToken, Task> copy, Action<Exception> onFailure)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(onFailure);
        var count = int.TryParse(instance.Option(DatastoreOptionNames.SpareCopies, string.Empty), out var n) ? n : DefaultCount;
        _ = Task.Run(async () =>
        {
            try
            {
                await ReplenishAsync(template, count, copy, CancellationToken.None);
            }
            catch (Exception e)
            {
                onFailure(e);
            }
        });
    }

    /// <summary>How many spares of <paramref name="template"/> are ready.</summary>
    public static int Count(string template)
    {
        var (folder, prefix) = Split(template, SpareInfix);
        return Directory.Exists(folder) ? Directory.EnumerateDirectories(folder, prefix + "*").Count() : 0;
    }

    private static (string Folder, string Prefix) Split(string template, string infix)
    {
        var full = Path.GetFullPath(template).TrimEnd('/');
        return (Path.GetDirectoryName(full)!, Path.GetFileName(full) + infix);
    }
}
