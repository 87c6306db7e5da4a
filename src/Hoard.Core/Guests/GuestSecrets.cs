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

    // Derived once: every sealed task payload uses it.
    private readonly byte[] _sealingKey = HMACSHA256.HashData(masterKey, "seal\nstore"u8);

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

    /// <summary>The secret a cluster's members share to authenticate to each other (replication, slot migration).</summary>
    public string ClusterSecret(string clusterId) => Derive("cluster", clusterId);

    /// <summary>The key backups are sealed with when none is configured: derived from the master key, so it survives restarts.</summary>
    public Hoard.Abstractions.Backups.BackupKey BackupKey() => Hoard.Abstractions.Backups.BackupKey.Derive(_key, "hoard backups v1");

    /// <summary>
    /// Encrypts a value for the management store (AES-256-GCM under a key derived from the master key), so
    /// passwords a task must keep until it runs are never stored in the clear.
    /// </summary>
    public string Seal(string plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        var data = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[NonceBytes + TagBytes + data.Length];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_sealingKey, TagBytes);
        aes.Encrypt(nonce, data, sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes));
        return Convert.ToBase64String(sealedBytes);
    }

    /// <summary>Decrypts what <see cref="Seal"/> made; a value sealed under another key or altered is refused.</summary>
    public string Unseal(string sealedText)
    {
        ArgumentNullException.ThrowIfNull(sealedText);
        var sealedBytes = Convert.FromBase64String(sealedText);
        if (sealedBytes.Length < NonceBytes + TagBytes)
        {
            throw new CryptographicException("the sealed value is too short");
        }

        var data = new byte[sealedBytes.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(_sealingKey, TagBytes);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes + TagBytes), sealedBytes.AsSpan(NonceBytes, TagBytes), data);
        return Encoding.UTF8.GetString(data);
    }

    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private string Derive(string purpose, string instanceId)
    {
        var mac = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(purpose + "\n" + instanceId));
        return Convert.ToBase64String(mac).TrimEnd('=').Replace('+', 'x').Replace('/', 'y');
    }
}
