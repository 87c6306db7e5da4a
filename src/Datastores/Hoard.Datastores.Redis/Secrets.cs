using Hoard.Abstractions.IO;

namespace Hoard.Datastores.Redis;

internal static class Secrets
{
    /// <summary>32 characters from a URL-safe alphabet: 192 bits, safe on a command line and in a URL.</summary>
    public static string GeneratePassword() => Passwords.Generate(Passwords.UrlSafe, length: 32);
}
