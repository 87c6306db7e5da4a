using System.Security.Cryptography;
using System.Text;

namespace Hoard.Datastores.PostgreSql;

/// <summary>Quoting for the few places PostgreSQL takes no parameters: identifiers, and passwords in CREATE/ALTER ROLE.</summary>
internal static class Sql
{
    private const int ScramIterations = 4096;
    private const int ScramSaltLength = 16;

    /// <summary>A double-quoted identifier, embedded quotes doubled: exact, case-sensitive, never a keyword.</summary>
    public static string Identifier(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        RejectNul(name);
        return "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>
    /// A string literal, embedded single quotes doubled. Backslashes are ordinary characters because every
    /// admin session runs with standard_conforming_strings on (see <see cref="AdminSession"/>).
    /// </summary>
    public static string Literal(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        RejectNul(value);
        return "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    /// <summary>
    /// The PASSWORD clause for <paramref name="password"/>. A printable-ASCII password goes over as its
    /// SCRAM-SHA-256 verifier, computed here, so the server (its logs, pg_stat_activity) never sees it; the
    /// server stores a verifier as given. Anything else goes as a quoted literal for the server to normalise
    /// (SASLprep) and hash itself.
    /// </summary>
    public static string PasswordClause(string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(password);
        return "PASSWORD " + Literal(IsPrintableAscii(password) ? ScramVerifier(password) : password);
    }

    /// <summary>
    /// SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey (RFC 5802/7677), as PostgreSQL stores it. Only for
    /// printable ASCII, which SASLprep leaves as it is.
    /// </summary>
    internal static string ScramVerifier(string password, byte[]? salt = null)
    {
        salt ??= RandomNumberGenerator.GetBytes(ScramSaltLength);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, ScramIterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${ScramIterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }

    private static bool IsPrintableAscii(string s)
    {
        foreach (var c in s)
        {
            if (c is < ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    private static void RejectNul(string s)
    {
        if (s.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("PostgreSQL takes no NUL characters in names or passwords");
        }
    }
}
