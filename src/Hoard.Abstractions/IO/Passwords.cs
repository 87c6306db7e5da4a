using System.Security.Cryptography;

namespace Hoard.Abstractions.IO;

/// <summary>Generates engine passwords from a cryptographic RNG; each engine picks the alphabet and length.</summary>
public static class Passwords
{
    /// <summary>Letters, digits, '-' and '_': 6 bits a character, safe on a command line, in a URL and in a file.</summary>
    public const string UrlSafe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>Letters and digits only (passlib's ascii_62, as Trove uses): safe in a shell, a URL and an option file.</summary>
    public const string Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary><paramref name="length"/> characters drawn uniformly from <paramref name="alphabet"/>.</summary>
    public static string Generate(string alphabet, int length) => RandomNumberGenerator.GetString(alphabet, length);
}
