using Hoard.Abstractions.Storage;
using Npgsql;

namespace Hoard.Storage.PostgreSql;

/// <summary>
/// Opens the PostgreSQL store for a <c>postgresql://user:password@host:port/database</c> connection string. User and
/// password are percent-decoded; query parameters (<c>?sslmode=require</c>) pass through as Npgsql keywords.
/// </summary>
public sealed class PostgreSqlStorePlugin : IManagementStoreFactory
{
    public const int DefaultPort = 5432;

    public string Scheme => "postgresql";

    public IManagementStore Open(Uri connection) => new PostgreSqlManagementStore(ToConnectionString(connection));

    /// <summary>Translates the URI to Npgsql's keywords; an ArgumentException says what is wrong with it.</summary>
    public static NpgsqlConnectionStringBuilder ToConnectionString(Uri connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (!connection.IsAbsoluteUri || connection.Scheme is not ("postgresql" or "postgres"))
        {
            throw new ArgumentException($"'{Redact(connection)}' is not a postgresql:// connection string");
        }

        var host = connection.IdnHost;
        if (string.IsNullOrEmpty(host))
        {
            throw new ArgumentException($"postgresql connection string '{Redact(connection)}' names no host; use postgresql://user:password@host:port/database");
        }

        var database = Uri.UnescapeDataString(connection.AbsolutePath.TrimStart('/'));
        if (database.Length == 0)
        {
            throw new ArgumentException($"postgresql connection string '{Redact(connection)}' names no database; use postgresql://user:password@host:port/database");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = host,
            Port = connection.IsDefaultPort || connection.Port < 0 ? DefaultPort : connection.Port,
            Database = database,
        };

        var userInfo = connection.UserInfo;
        if (userInfo.Length > 0)
        {
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            }
        }

        foreach (var pair in connection.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? string.Empty : Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
            try
            {
                builder[key] = value;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
            {
                throw new ArgumentException($"postgresql connection string option '{key}': {e.Message}", e);
            }
        }

        return builder;
    }

    /// <summary>The URI without its password, for messages.</summary>
    private static string Redact(Uri connection)
    {
        if (!connection.IsAbsoluteUri || !connection.UserInfo.Contains(':', StringComparison.Ordinal))
        {
            return connection.ToString();
        }

        var user = connection.UserInfo[..connection.UserInfo.IndexOf(':', StringComparison.Ordinal)];
        return $"{connection.Scheme}://{user}:***@{connection.Authority}{connection.PathAndQuery}";
    }
}
