using System.Security.Cryptography;

namespace Hoard.Datastores.MariaDb;

internal static class Secrets
{
    /// <summary>Trove's default_password_length for MySQL and MariaDB.</summary>
    public const int PasswordLength = 36;

    // Trove's generated passwords use letters and digits only (passlib's ascii_62): safe in a shell, a URL, an option file.
    private const string Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>36 letters and digits from a cryptographic RNG: about 214 bits.</summary>
    public static string GeneratePassword() => RandomNumberGenerator.GetString(Alphanumeric, PasswordLength);
}
