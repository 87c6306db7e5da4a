using System.Text;

namespace Hoard.Storage.Redis;

/// <summary>
/// Builds the store's keys: <c>{root}v1:{kind}:{part}:{part}</c>, each part escaped ('%' → %25, ':' → %3A) so an id can
/// never reach into another kind's namespace (Zaqar's <c>gold.pools</c> vs pool <c>gold</c> collision cannot happen).
/// The Lua scripts build the same keys with the same escaping (<see cref="RedisScripts"/>).
/// </summary>
internal sealed class RedisKeys(string root)
{
    public const int LayoutVersion = 1;

    /// <summary>Everything the store writes starts with this, e.g. <c>hoard:</c>.</summary>
    public string Root { get; } = root;

    /// <summary>The prefix of the current layout's keys, e.g. <c>hoard:v1:</c>.</summary>
    public string Prefix { get; } = $"{root}v{LayoutVersion}:";

    /// <summary>Holds the layout version, outside the versioned prefix so an older or newer Hoard can read it.</summary>
    public string Schema => Root + "schema";

    public string Key(string kind, params string[] parts)
    {
        var key = new StringBuilder(Prefix).Append(kind);
        foreach (var part in parts)
        {
            key.Append(':').Append(Escape(part));
        }

        return key.ToString();
    }

    public static string Escape(string part) => part.Replace("%", "%25", StringComparison.Ordinal).Replace(":", "%3A", StringComparison.Ordinal);

    public static string Unescape(string part) => part.Replace("%3A", ":", StringComparison.Ordinal).Replace("%25", "%", StringComparison.Ordinal);
}
