using System.Globalization;
using System.Runtime.InteropServices;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// The operating-system user mariadbd runs as when the agent is root: the Debian package's <c>mysql</c>.
/// When the agent is not root there is none, and the server runs as the agent's own user.
/// </summary>
internal sealed partial record EngineAccount(string Name, uint Uid, uint Gid)
{
    /// <summary>The engine account the agent must use, or null when it runs the server as itself (not root).</summary>
    public static EngineAccount? ForCurrentProcess(string name) =>
        Environment.IsPrivilegedProcess
            ? Lookup(name) ?? throw new InvalidOperationException(
                $"the agent runs as root, and mariadbd must not: it runs as the '{name}' user, which does not exist (Debian's mariadb-server package creates it)")
            : null;

    /// <summary>The user's uid and primary gid from /etc/passwd (where the Debian package puts it), or null.</summary>
    public static EngineAccount? Lookup(string name)
    {
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == name
                && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
                && uint.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
            {
                return new EngineAccount(name, uid, gid);
            }
        }

        return null;
    }

    /// <summary>Gives <paramref name="path"/> to the engine user (not following a symbolic link).</summary>
    public void Own(string path)
    {
        if (LChown(path, Uid, Gid) != 0)
        {
            throw new IOException($"could not give {path} to the {Name} user: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Fails, naming the directory, when an ancestor of <paramref name="path"/> does not let other users through
    /// (search permission for others): the engine user could not reach the path. System directories are never
    /// changed to make it so; the operator chooses another place.
    /// </summary>
    public void RequireReachable(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        var ancestors = new Stack<string>();
        for (; directory is not null; directory = Path.GetDirectoryName(directory))
        {
            ancestors.Push(directory);
        }

        foreach (var ancestor in ancestors)
        {
            if (Directory.Exists(ancestor) && (File.GetUnixFileMode(ancestor) & UnixFileMode.OtherExecute) == 0)
            {
                throw new InvalidOperationException(
                    $"the {Name} user, which runs mariadbd, cannot reach {path}: {ancestor} is not searchable by other users (mode {Mode(ancestor)}); "
                    + "put the instances (and mount_point) under a directory it can traverse");
            }
        }
    }

    private static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8).PadLeft(4, '0');

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, uint owner, uint group);
}
