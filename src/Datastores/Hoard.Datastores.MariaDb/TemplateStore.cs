using System.Diagnostics;
using Hoard.Abstractions.IO;
using Microsoft.Extensions.Logging;

namespace Hoard.Datastores.MariaDb;

/// <summary>A built template: a data directory to copy, and the password its admin user has.</summary>
internal sealed record DataTemplate(string DataDirectory, string SecretFile);

/// <summary>
/// Builds one template data directory per MariaDB version, once: mariadb-install-db takes ~0.8 s, far too long to
/// run per instance, while copying its result takes a few tens of milliseconds. The template holds only the
/// agent's admin user, with a password of the template's own, which each instance replaces at its first start.
/// </summary>
/// <remarks>
/// A template is built in a temporary folder and renamed into place, so a crash never leaves half of one; a file
/// lock lets one builder (of all the agents sharing the folder) work while the others wait for its result.
/// </remarks>
internal sealed class TemplateStore(MariaDbManagerOptions options, ILogger logger)
{
    public const string FolderName = ".templates";

    private static readonly TimeSpan LockPollDelay = TimeSpan.FromMilliseconds(20);
    private static readonly SemaphoreSlim BuildGate = new(1, 1);

    /// <summary>The templates folder for an instance: the configured one, else <c>.templates</c> beside the instance's directory.</summary>
    public string FolderFor(InstanceFiles files) =>
        options.TemplatesDirectory is { } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(Path.GetDirectoryName(files.Directory) ?? throw new ArgumentException($"{files.Directory} has no parent folder"), FolderName);

    public static DataTemplate Locate(string folder, MariaDbInstallation installation)
    {
        var data = Path.Combine(folder, $"mariadb-{installation.Version.Name}");
        return new DataTemplate(data, data + ".secret");
    }

    /// <summary>The template of <paramref name="installation"/>'s version in <paramref name="folder"/>, built first if need be.</summary>
    public async Task<DataTemplate> EnsureAsync(string folder, MariaDbInstallation installation, EngineAccount? engine, CancellationToken cancellationToken)
    {
        var template = Locate(folder, installation);
        if (IsBuilt(template))
        {
            return template;
        }

        CreateFolder(folder, engine);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.TemplateTimeout);
        try
        {
            await BuildGate.WaitAsync(deadline.Token);
            try
            {
                using var fileLock = await LockAsync(template.DataDirectory + ".lock", deadline.Token);
                if (!IsBuilt(template))
                {
                    await BuildAsync(template, installation, engine, deadline.Token);
                }
            }
            finally
            {
                BuildGate.Release();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the MariaDB {installation.Version.Name} template in {folder} was not built within {options.TemplateTimeout.TotalSeconds:F0} s");
        }

        return template;
    }

    private static bool IsBuilt(DataTemplate template) => Directory.Exists(template.DataDirectory) && File.Exists(template.SecretFile);

    private static void CreateFolder(string folder, EngineAccount? engine)
    {
        // 0711: the engine user may pass through to its template (mariadb-install-db runs as it), not list or read the secrets.
        const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder, mode);
        }

        if (engine is not null)
        {
            engine.RequireReachable(folder);
            if ((File.GetUnixFileMode(folder) & UnixFileMode.OtherExecute) == 0)
            {
                File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) | UnixFileMode.OtherExecute);
            }
        }
    }

    /// <summary>An exclusive lock on <paramref name="path"/> (flock, shared by every process that opens it so).</summary>
    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.OpenOrCreate,
                    Access = FileAccess.ReadWrite,
                    Share = FileShare.None,
                    UnixCreateMode = PrivateFile.OwnerOnly,
                });
            }
            catch (IOException)
            {
                // Another process builds this template; its result is what we want.
                await Task.Delay(LockPollDelay, cancellationToken);
            }
        }
    }

    private async Task BuildAsync(DataTemplate template, MariaDbInstallation installation, EngineAccount? engine, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var folder = Path.GetDirectoryName(template.DataDirectory)!;
        var name = Path.GetFileName(template.DataDirectory);
        RemoveLeftovers(folder, name);

        var build = $"{template.DataDirectory}.build-{Guid.NewGuid():N}";
        var script = build + ".sql";
        logger.BuildingTemplate(installation.Version.Version, template.DataDirectory);
        try
        {
            Directory.CreateDirectory(build, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var password = Secrets.GeneratePassword();
            PrivateFile.Write(script, BootstrapSql(password));
            if (engine is not null)
            {
                engine.Own(build);
                engine.Own(script);
            }

            await RunInstallDbAsync(installation, build, script, engine, cancellationToken);
            if (!Directory.Exists(Path.Combine(build, "mysql")))
            {
                throw new InvalidOperationException($"mariadb-install-db reported success but {build} has no mysql schema");
            }

            // The secret first: a template folder without its secret is rebuilt, never used.
            PrivateFile.Write(template.SecretFile, password + "\n");
            Directory.Move(build, template.DataDirectory);
        }
        finally
        {
            File.Delete(script);
            if (Directory.Exists(build))
            {
                Directory.Delete(build, recursive: true);
            }
        }

        logger.TemplateBuilt(installation.Version.Version, template.DataDirectory, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// What runs after mariadb-install-db's own tables: every account it made (root and the engine user with
    /// unix_socket authentication, anonymous users) goes, and only the agent's admin user, with a password,
    /// remains beside mariadb.sys (the locked definer of the mysql.user view, which cannot log in).
    /// The sys schema goes too: its 100-odd view files are half of what each instance would copy, at a few
    /// tenths of a millisecond per file created, and it only reads performance_schema, which MariaDB leaves off.
    /// </summary>
    internal static string BootstrapSql(string adminPassword)
    {
        var admin = Sql.Account(MariaDbSchema.AdminUser, MariaDbSchema.AdminHost);
        return $"""
            DROP DATABASE IF EXISTS sys;
            DELETE FROM mysql.global_priv WHERE NOT (User = 'mariadb.sys' AND Host = 'localhost');
            DELETE FROM mysql.proxies_priv;
            DELETE FROM mysql.roles_mapping;
            DELETE FROM mysql.db WHERE User <> 'mariadb.sys';
            DELETE FROM mysql.tables_priv WHERE User <> 'mariadb.sys';
            DELETE FROM mysql.columns_priv WHERE User <> 'mariadb.sys';
            DELETE FROM mysql.procs_priv WHERE User <> 'mariadb.sys';
            FLUSH PRIVILEGES;
            CREATE USER {admin} {Sql.IdentifiedBy(adminPassword)};
            GRANT ALL PRIVILEGES ON *.* TO {admin} WITH GRANT OPTION;

            """;
    }

    private static async Task RunInstallDbAsync(MariaDbInstallation installation, string build, string script, EngineAccount? engine, CancellationToken cancellationToken)
    {
        string[] installDb =
        [
            installation.InstallDbPath,
            "--no-defaults",
            $"--basedir={installation.Prefix}",
            $"--datadir={build}",
            "--skip-test-db",
            "--skip-name-resolve",
            "--auth-root-authentication-method=socket",
            $"--extra-file={script}",
            .. ServerConfig.TemplateOptions,
        ];

        // As root, the tool runs as the engine user (setpriv), not with its own --user: that would also chown
        // files of the installed package (the PAM helper), which is not the agent's to touch.
        string[] command = engine is null
            ? installDb
            : [
                ServerProcess.Locate("setpriv") ?? throw new InvalidOperationException("setpriv (util-linux) is not installed; it runs mariadb-install-db as the engine user"),
                $"--reuid={engine.Uid}",
                $"--regid={engine.Gid}",
                "--init-groups",
                "--",
                .. installDb,
            ];

        var start = new ProcessStartInfo(command[0])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = build,
        };
        foreach (var argument in command[1..])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {command[0]}");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            var said = string.Join('\n', ((await errors) + "\n" + (await output)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(20));
            throw new InvalidOperationException($"mariadb-install-db failed (exit {process.ExitCode}) building a template in {build}:\n{said}");
        }
    }

    /// <summary>Removes what an interrupted builder left: its build folder and bootstrap script.</summary>
    private static void RemoveLeftovers(string folder, string name)
    {
        foreach (var leftover in Directory.EnumerateFileSystemEntries(folder, name + ".build-*"))
        {
            if (Directory.Exists(leftover))
            {
                Directory.Delete(leftover, recursive: true);
            }
            else
            {
                File.Delete(leftover);
            }
        }
    }
}
