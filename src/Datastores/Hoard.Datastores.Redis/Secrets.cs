using System.Security.Cryptography;

namespace Hoard.Datastores.Redis;

internal static class Secrets
{
    public const int PasswordLength = 32;

    private const string UrlSafeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>32 characters from a URL-safe alphabet: 192 bits, safe on a command line and in a URL.</summary>
    public static string GeneratePassword() => RandomNumberGenerator.GetString(UrlSafeAlphabet, PasswordLength);
}
