using System.Net;
using System.Security.Cryptography;
using System.Text;
using Hoard.Abstractions.Tracing;
using MySqlConnector;

namespace Hoard.Datastores.MariaDb;

/// <summary>
/// How names and secrets go into MariaDB statements. Account statements (CREATE USER, GRANT, ...) take no
/// placeholders, so names are backtick-quoted identifiers and passwords go over only as their
/// mysql_native_password hash, a literal of hex digits: the clear password never reaches the server, its
/// processlist or its logs.
/// </summary>
internal static class Sql
{
    /// <summary>A backtick-quoted identifier, backticks doubled: the one quoting MariaDB reads the same in every sql_mode.</summary>
    public static string Identifier(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("an identifier cannot contain NUL", nameof(name));
        }

        return "`" + name.Replace("`", "``", StringComparison.Ordinal) + "`";
    }

    /// <summary>An account, <c>`user`@`host`</c>.</summary>
    public static string Account(string user, string host) => Identifier(user) + "@" + Identifier(host);

    /// <summary>
    /// The database part of a GRANT: its name with <c>_</c> and <c>%</c> escaped, since GRANT reads them as
    /// wildcards there, and <c>app_db</c> would otherwise also grant <c>app1db</c>.
    /// </summary>
    public static string GrantTarget(string database) => Identifier(EscapeWildcards(database)) + ".*";

    public static string EscapeWildcards(string database) =>
        database.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal)
            .Replace("%", "\\%", StringComparison.Ordinal);

    /// <summary>The database a mysql.db row names: its pattern with the escapes of <see cref="EscapeWildcards"/> undone.</summary>
    public static string UnescapeWildcards(string pattern)
    {
        var name = new StringBuilder(pattern.Length);
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '\\' && i + 1 < pattern.Length)
            {
                i++;
            }

            name.Append(pattern[i]);
        }

        return name.ToString();
    }

    /// <summary>
    /// <c>IDENTIFIED BY PASSWORD '*…'</c>: the mysql_native_password hash, "*" and the upper-case hex of
    /// SHA1(SHA1(password)), over the password's UTF-8 bytes (as the mariadb client and MySqlConnector send it).
    /// </summary>
    public static string IdentifiedBy(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
#pragma warning disable CA5350 // SHA-1 is what mysql_native_password is; the hash is the account's, not a choice.
        var hash = SHA1.HashData(SHA1.HashData(Encoding.UTF8.GetBytes(password)));
#pragma warning restore CA5350
        return $"IDENTIFIED BY PASSWORD '*{Convert.ToHexString(hash)}'";
    }

    /// <summary>A string literal for a value checked against a known list (character sets, collations).</summary>
    public static string Literal(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"'{value}' is not a character set or collation name", nameof(value));
        }

        return "'" + value + "'";
    }

    /// <summary>
    /// A connection string for one short admin exchange: no pool (the agent serves hundreds of instances and keeps
    /// nothing per instance between calls), no TLS over loopback, and '@' left alone so account names pass through.
    /// </summary>
    public static string ConnectionString(IPEndPoint endPoint, string user, string password, TimeSpan commandTimeout) =>
        new MySqlConnectionStringBuilder
        {
            Server = endPoint.Address.ToString(),
            Port = (uint)endPoint.Port,
            UserID = user,
            Password = password,
            Pooling = false,
            SslMode = MySqlSslMode.None,
            AllowUserVariables = true,
            ConnectionTimeout = 5,
            DefaultCommandTimeout = (uint)Math.Ceiling(commandTimeout.TotalSeconds),
            ApplicationName = "hoard-guest",
        }.ConnectionString;

    public static async Task ExecuteAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var activity = HoardTracing.StartStatement("mariadb", sql);
        try
        {
            await using var command = new MySqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e)
        {
            activity.RecordError(e);
            throw;
        }
    }

    /// <summary>Runs a query and reads every row with <paramref name="read"/>.</summary>
    public static async Task<List<T>> QueryAsync<T>(
        MySqlConnection connection,
        string sql,
        Func<MySqlDataReader, T> read,
        CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        using var activity = HoardTracing.StartStatement("mariadb", sql);
        await using var command = new MySqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
