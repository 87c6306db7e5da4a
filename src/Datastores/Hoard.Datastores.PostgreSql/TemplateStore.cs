using System.Diagnostics;
using Hoard.Abstractions.IO;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.PostgreSql;

/// <summary>A built template: a data directory to copy, and the password its admin role has until an instance changes it.</summary>
internal sealed record Template(string DataDirectory, string SecretFile);

/// <summary>
/// Template data directories, one per PostgreSQL version, built once with initdb (about a second) so that
/// preparing an instance is a copy (tens of milliseconds) and a start. A template is built in a temporary
/// folder and renamed into place, so it exists whole or not at all; a lock file keeps concurrent builders
/// (other agents, other threads) to one.
/// </summary>
internal sealed class TemplateStore(EngineAccount account, PostgreSqlManagerOptions options, ILogger logger)
{
    private const string BuildingMarker = ".building-";

    private static readonly UnixFileMode Traversable =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private static readonly UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The templates folder for an instance: configured, or <c>.templates</c> beside the instance's directory.</summary>
    public string DirectoryFor(string instanceDirectory) =>
        options.TemplatesDirectory
        ?? Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(instanceDirectory)) ?? "/", ".templates");

    /// <summary>Where the template of <paramref name="binaries"/>' version is (built or not).</summary>
    public Template Locate(string templatesDirectory, PostgreSqlBinaries binaries)
    {
        var data = Path.Combine(templatesDirectory, "postgresql-" + binaries.VersionName);
        return new Template(data, data + ".secret");
    }

    /// <summary>The template of <paramref name="binaries"/>' version, built now when there is none.</summary>
    public async Task<Template> EnsureAsync(string templatesDirectory, PostgreSqlBinaries binaries, CancellationToken cancellationToken)
    {
        var template = Locate(templatesDirectory, binaries);
        if (IsBuilt(template))
        {
            return template;
        }

        var started = Stopwatch.GetTimestamp();
        if (!Directory.Exists(templatesDirectory))
        {
            // Searchable but not listable for the engine user, which only needs to reach its own template.
            Directory.CreateDirectory(templatesDirectory, Traversable);
        }

        await account.EnsureCanReachAsync(templatesDirectory, cancellationToken);
        using var buildLock = await AcquireLockAsync(template.DataDirectory + ".lock", started, cancellationToken);
        if (IsBuilt(template))
        {
            // Another builder finished while this one waited.
            return template;
        }

        logger.TemplateBuilding(binaries.VersionName, template.DataDirectory);
        RemoveAbandonedBuilds(template);
        var building = template.DataDirectory + BuildingMarker + Guid.NewGuid().ToString("N");
        var passwordFile = building + ".pw";
        try
        {
            Directory.CreateDirectory(building, Private);
            account.Own(building);

            var password = Secrets.GeneratePassword();
            PrivateFile.Write(passwordFile, password + "\n");
            account.Own(passwordFile);
            await RunInitdbAsync(binaries, building, passwordFile, cancellationToken);
            File.Delete(passwordFile);

            account.WritePrivateFile(Path.Combine(building, "pg_hba.conf"), ServerConfig.HostBasedAuthentication);
            await File.AppendAllTextAsync(Path.Combine(building, "postgresql.conf"), ServerConfig.IncludeLine, cancellationToken);

            // The secret first: whoever sees the template sees its password too.
            PrivateFile.Write(template.SecretFile, password + "\n");
            Directory.Move(building, template.DataDirectory);
        }
        catch
        {
            TryDelete(passwordFile);
            TryDeleteDirectory(building);
            throw;
        }

        logger.TemplateBuilt(binaries.VersionName, template.DataDirectory, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return template;
    }

    private static bool IsBuilt(Template template) => Directory.Exists(template.DataDirectory) && File.Exists(template.SecretFile);

    private async Task RunInitdbAsync(PostgreSqlBinaries binaries, string dataDirectory, string passwordFile, CancellationToken cancellationToken)
    {
        List<string> command =
        [
            .. account.CommandPrefix,
            binaries.Initdb,
            "--pgdata=" + dataDirectory,
            "--username=" + PostgreSqlSchema.AdminUser,
            "--pwfile=" + passwordFile,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ];
        var result = await ChildProcess.RunAsync(command[0], command.Skip(1), options.TemplateTimeout, cancellationToken, workingDirectory: dataDirectory);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"initdb of the PostgreSQL {binaries.VersionName} template failed (exit {result.ExitCode}): {result.Output}");
        }
    }

    /// <summary>An exclusive lock on <paramref name="path"/> (flock, released when the process dies), waited for with a deadline.</summary>
    private async Task<FileStream> AcquireLockAsync(string path, long started, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            try
            {
                return new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate,
                    Access = FileAccess.ReadWrite,
                    Share = FileShare.None,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
            }
            catch (IOException) when (Stopwatch.GetElapsedTime(started) < options.TemplateTimeout)
            {
                // Another builder holds it; it finishes in about a second.
            }
            catch (IOException e)
            {
                throw new TimeoutException($"the template lock {path} was held for more than {options.TemplateTimeout.TotalSeconds:F0} s", e);
            }

            await Task.Delay(delay, cancellationToken);
            delay = delay * 2 < TimeSpan.FromMilliseconds(100) ? delay * 2 : TimeSpan.FromMilliseconds(100);
        }
    }

    /// <summary>Removes what a crashed builder left behind (only ever touched under the lock).</summary>
    private static void RemoveAbandonedBuilds(Template template)
    {
        var folder = Path.GetDirectoryName(template.DataDirectory)!;
        var prefix = Path.GetFileName(template.DataDirectory) + BuildingMarker;
        foreach (var entry in Directory.EnumerateFileSystemEntries(folder, prefix + "*"))
        {
            if (Directory.Exists(entry))
            {
                TryDeleteDirectory(entry);
            }
            else
            {
                TryDelete(entry);
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
