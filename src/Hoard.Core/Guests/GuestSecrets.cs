using System.Security.Cryptography;
using System.Text;
using Hoard.Abstractions.IO;

namespace Hoard.Core.Guests;

/// <summary>
/// Derives per-instance secrets from the control plane's master key, so no secret is stored in the
/// management store: the guest secret (how an instance's guest authenticates) and the root password
/// made for root_on_create are both recomputed when a resumed task needs them.
/// </summary>
public sealed class GuestSecrets(byte[] masterKey)
{
    private readonly byte[] _key = [.. masterKey];

    public const int KeyBytes = 32;

    /// <summary>Reads the key file, creating it (mode 0600) on first start.</summary>
    public static GuestSecrets LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            PrivateFile.Write(path, RandomNumberGenerator.GetBytes(KeyBytes), overwrite: false);
        }

        var bytes = File.ReadAllBytes(path);
        return bytes.Length == KeyBytes
            ? new GuestSecrets(bytes)
            : throw new InvalidOperationException($"master key file '{path}' is not {KeyBytes} bytes");
    }

    public string GuestSecret(string instanceId) => Derive("guest", instanceId);

    public string RootPassword(string instanceId) => Derive("root-on-create", instanceId)[..24];

    private string Derive(string purpose, string instanceId)
    {
        var mac = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(purpose + "\n" + instanceId));
        return Convert.ToBase64String(mac).TrimEnd('=').Replace('+', 'x').Replace('/', 'y');
    }
}
