using System.Globalization;
using System.Text;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.MariaDb;

/// <summary>Renders an instance's my.cnf, and the options a template is built with.</summary>
internal static class ServerConfig
{
    /// <summary>
    /// The redo log of every instance and of the template it is copied from (the sizes must agree, or the first
    /// start rebuilds the log). Small, so a copy of the template stays cheap: 16 MiB of the template's ~33 MiB.
    /// </summary>
    public const int RedoLogMb = 16;

    /// <summary>InnoDB refuses a buffer pool under 6 MiB (16 KiB pages); 8 MiB leaves room for rounding.</summary>
    public const int MinBufferPoolMb = 8;

    public const string CharacterSet = "utf8mb4";

    public const string Collation = "utf8mb4_general_ci";

    /// <summary>Options shared by the template's bootstrap and the instances: what must match between them.</summary>
    public static IReadOnlyList<string> TemplateOptions { get; } =
    [
        $"--innodb-log-file-size={RedoLogMb}M",
        "--innodb-buffer-pool-dump-at-shutdown=OFF",
        $"--character-set-server={CharacterSet}",
        $"--collation-server={Collation}",
    ];

    public static int BufferPoolMb(int ramMb) => Math.Max(ramMb / 2, MinBufferPoolMb);

    public static string Render(GuestInstance instance, InstanceFiles files)
    {
        var conf = new StringBuilder();
        conf.AppendLine(CultureInfo.InvariantCulture, $"# Written by Hoard for MariaDB instance {instance.Id}; rewritten on every prepare.");
        conf.AppendLine("# mariadbd reads only this file (--defaults-file), never /etc/mysql.");
        conf.AppendLine("[mariadbd]");

        // Defaults a configuration group may override: its file is read next, and an option file's last word wins.
        conf.AppendLine(CultureInfo.InvariantCulture, $"character-set-server = {CharacterSet}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"collation-server = {Collation}");

        // Half the flavor's RAM for InnoDB's pages, as a dedicated MariaDB host would have it.
        conf.AppendLine(CultureInfo.InvariantCulture, $"innodb-buffer-pool-size = {BufferPoolMb(instance.RamMb)}M");

        // Start-up work that buys nothing for a fresh or small server: a warm-up dump.
        conf.AppendLine("innodb-buffer-pool-load-at-startup = OFF");
        conf.AppendLine("innodb-buffer-pool-dump-at-shutdown = OFF");
        conf.AppendLine();
        conf.AppendLine(CultureInfo.InvariantCulture, $"!include {files.GroupConfig}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"!include {files.LogsConfig}");
        conf.AppendLine();
        conf.AppendLine("# The manager's own options, read after the group's, win over them.");
        conf.AppendLine("[mariadbd]");
        conf.AppendLine(CultureInfo.InvariantCulture, $"datadir = {Quote(files.DataDirectory)}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"pid-file = {Quote(files.EnginePidFile)}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"slow-query-log-file = {Quote(files.SlowLogFile)}");

        // TCP on the instance's own address only; no unix socket (an empty path makes none), so every
        // login is a password login over TCP, and no socket path can overflow sun_path's 108 bytes.
        conf.AppendLine(CultureInfo.InvariantCulture, $"bind-address = {instance.Address}");
        conf.AppendLine(CultureInfo.InvariantCulture, $"port = {instance.Port}");
        conf.AppendLine("socket =");
        conf.AppendLine("skip-name-resolve");
        conf.AppendLine("local-infile = OFF");
        conf.AppendLine("symbolic-links = OFF");
        conf.AppendLine(CultureInfo.InvariantCulture, $"innodb-log-file-size = {RedoLogMb}M");

        // A 12 MiB temp tablespace is start-up work a fresh or small server does not need.
        conf.AppendLine("innodb-temp-data-file-path = ibtmp1:1M:autoextend");
        return conf.ToString();
    }

    /// <summary>logs.cnf: the slow-query log on with its threshold, or (null) off, which is the server's default.</summary>
    public static string RenderLogs(GuestInstance instance, decimal? longQuerySeconds)
    {
        var conf = new StringBuilder();
        conf.AppendLine(CultureInfo.InvariantCulture, $"# Database logs of MariaDB instance {instance.Id}; written by Hoard (openstack database log set), included by my.cnf.");
        conf.AppendLine("[mariadbd]");
        if (longQuerySeconds is { } seconds)
        {
            conf.AppendLine("slow-query-log = ON");
            conf.AppendLine(CultureInfo.InvariantCulture, $"long-query-time = {seconds}");
        }

        return conf.ToString();
    }

    /// <summary>The configuration group's option file, included by my.cnf; names as the server's variables have them.</summary>
    public static string RenderGroup(GuestInstance instance, IReadOnlyDictionary<string, string> values)
    {
        var conf = new StringBuilder();
        conf.AppendLine(CultureInfo.InvariantCulture, $"# Configuration group values of MariaDB instance {instance.Id}; written by Hoard, included by my.cnf.");
        conf.AppendLine("[mariadbd]");
        foreach (var (name, value) in values.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            conf.AppendLine(CultureInfo.InvariantCulture, $"{name} = {Quote(value)}");
        }

        return conf.ToString();
    }

    /// <summary>A value as MariaDB's option-file parser reads it: double-quoted, with \ and " escaped.</summary>
    public static string Quote(string value)
    {
        if (value.Any(char.IsControl))
        {
            throw new ArgumentException($"'{value}' contains control characters and cannot go into my.cnf", nameof(value));
        }

        return "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }
}
