using Hoard.Abstractions.IO;

namespace Hoard.Datastores.MariaDb;

internal static class Secrets
{
    /// <summary>Trove's default_password_length for MySQL and MariaDB.</summary>
    private const int PasswordLength = 36;

    /// <summary>36 letters and digits (as Trove's generated passwords): about 214 bits.</summary>
    public static string GeneratePassword() => Passwords.Generate(Passwords.Alphanumeric, PasswordLength);
}
