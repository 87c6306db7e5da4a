using System.Security.Cryptography;

namespace Hoard.Datastores.PostgreSql;

internal static class Secrets
{
    public const int PasswordLength = 32;

    private const string UrlSafeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>32 characters from a URL-safe alphabet: 192 bits, safe in a connection string, a URL and a file.</summary>
    public static string GeneratePassword() => RandomNumberGenerator.GetString(UrlSafeAlphabet, PasswordLength);
}
