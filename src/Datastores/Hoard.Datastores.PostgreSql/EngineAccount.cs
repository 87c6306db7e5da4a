using System.Globalization;
using System.Runtime.InteropServices;
using Hoard.Abstractions.IO;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// The account PostgreSQL runs as. PostgreSQL refuses to run as root, so an agent running as root starts
/// initdb and postgres as the Debian package's user (postgres) through setpriv and hands it the data
/// directories; an agent running as anyone else runs them as itself.
/// </summary>
internal sealed partial class EngineAccount
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(10);

    private EngineAccount(string name, uint uid, uint gid, bool switchesUser)
    {
        Name = name;
        Uid = uid;
        Gid = gid;
        SwitchesUser = switchesUser;
    }

    public string Name { get; }

    public uint Uid { get; }

    public uint Gid { get; }

    /// <summary>True when the agent is root and the engine runs as another user.</summary>
    public bool SwitchesUser { get; }

    /// <summary>What goes before the engine's command line: setpriv to the engine user with a clean environment, or nothing.</summary>
    public IReadOnlyList<string> CommandPrefix => SwitchesUser
        ?
        [
            SystemTools.SetPriv,
            string.Create(CultureInfo.InvariantCulture, $"--reuid={Uid}"),
            string.Create(CultureInfo.InvariantCulture, $"--regid={Gid}"),
            "--init-groups",
            "--reset-env",
            "--",
        ]
        : [];

    /// <summary>The engine user when the agent is root, else the agent's own user.</summary>
    public static EngineAccount Resolve(string engineUser)
    {
        var euid = GetEffectiveUserId();
        if (euid != 0)
        {
            return new EngineAccount(Environment.UserName, euid, GetEffectiveGroupId(), switchesUser: false);
        }

        var (uid, gid) = LookUpUser(engineUser)
            ?? throw new InvalidOperationException($"the agent runs as root, and PostgreSQL refuses root, but there is no '{engineUser}' user to run it as (Debian's postgresql package creates it)");
        if (uid == 0)
        {
            throw new InvalidOperationException($"the engine user '{engineUser}' is root; PostgreSQL refuses to run as root");
        }

        return new EngineAccount(engineUser, uid, gid, switchesUser: true);
    }

    /// <summary>Gives <paramref name="path"/> (not a symlink's target) to the engine user; nothing to do when the agent is the engine user.</summary>
    public void Own(string path)
    {
        if (SwitchesUser && LChown(path, Uid, Gid) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"could not give {path} to {Name} (chown): {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Writes a file the engine reads (mode 0600, atomically) and gives it to the engine user.</summary>
    public void WritePrivateFile(string path, string content)
    {
        PrivateFile.Write(path, content);
        Own(path);
    }

    /// <summary>
    /// Throws, naming the directory, when the engine user cannot reach <paramref name="directory"/> because it or
    /// an ancestor is not searchable for it. System directories are never changed: that is the operator's call.
    /// </summary>
    public async Task EnsureCanReachAsync(string directory, CancellationToken cancellationToken)
    {
        if (!SwitchesUser)
        {
            return;
        }

        // Most paths are searchable by everyone (o+x) all the way: decided from the modes alone, no process.
        var doubtful = new List<string>();
        for (var current = Path.GetFullPath(directory); current is not null; current = Path.GetDirectoryName(current))
        {
            if (Directory.Exists(current) && (File.GetUnixFileMode(current) & UnixFileMode.OtherExecute) == 0)
            {
                doubtful.Add(current);
            }
        }

        if (doubtful.Count == 0)
        {
            return;
        }

        // Owner or group may still let the engine user in: ask as that user, outermost directory first.
        doubtful.Reverse();
        List<string> args =
        [
            .. CommandPrefix,
            SystemTools.Shell,
            "-c",
            "for d do [ -x \"$d\" ] || { printf '%s' \"$d\"; exit 3; }; done",
            "sh",
            .. doubtful,
        ];
        var result = await ChildProcess.RunAsync(args[0], args.Skip(1), CheckTimeout, cancellationToken);
        if (result.ExitCode == 3)
        {
            throw new InvalidOperationException(
                $"the {Name} user, which runs PostgreSQL, cannot enter {result.Output.Trim()}; let it through (e.g. chmod o+x {result.Output.Trim()}) or keep instances elsewhere");
        }

        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"could not check that {Name} can reach {directory}: {result.Output.Trim()}");
        }
    }

    private static (uint Uid, uint Gid)? LookUpUser(string name)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var error = GetPasswordEntry(name, out var entry, buffer, (nuint)buffer.Length, out var result);
            if (error == Erange && buffer.Length < 1024 * 1024)
            {
                buffer = new byte[buffer.Length * 4];
                continue;
            }

            if (error != 0)
            {
                throw new InvalidOperationException($"could not look up user '{name}': {Marshal.GetPInvokeErrorMessage(error)}");
            }

            return result == IntPtr.Zero ? null : (entry.Uid, entry.Gid);
        }
    }

    private const int Erange = 34;

    // struct passwd of glibc on LP64 Linux.
    [StructLayout(LayoutKind.Sequential)]
    private struct Passwd
    {
        public IntPtr Name;
        public IntPtr Password;
        public uint Uid;
        public uint Gid;
        public IntPtr Gecos;
        public IntPtr Directory;
        public IntPtr Shell;
    }

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "getegid")]
    private static partial uint GetEffectiveGroupId();

    [LibraryImport("libc", EntryPoint = "getpwnam_r", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int GetPasswordEntry(string name, out Passwd entry, [Out] byte[] buffer, nuint bufferLength, out IntPtr result);

    [LibraryImport("libc", EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int LChown(string path, uint owner, uint group);
}
