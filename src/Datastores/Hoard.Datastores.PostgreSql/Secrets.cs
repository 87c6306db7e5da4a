using Hoard.Abstractions.IO;

namespace Hoard.Datastores.PostgreSql;

internal static class Secrets
{
    /// <summary>32 characters from a URL-safe alphabet: 192 bits, safe in a connection string, a URL and a file.</summary>
    public static string GeneratePassword() => Passwords.Generate(Passwords.UrlSafe, length: 32);
}
