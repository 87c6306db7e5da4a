using System.Security.Cryptography;
using System.Text;

namespace Hoard.Abstractions.Backups;

/// <summary>
/// The AES-256 key backups are encrypted with at rest, and its <see cref="Id"/>: a short fingerprint stored in every
/// backup's header so a restore with another key is refused before any decryption, naming both keys.
/// </summary>
public sealed class BackupKey
{
    /// <summary>AES-256.</summary>
    public const int Length = 32;

    /// <summary>Bytes of the fingerprint stored in a backup's header.</summary>
    public const int IdLength = 8;

    private static readonly byte[] IdDomain = Encoding.ASCII.GetBytes("hoard-backup-key-id");

    private readonly byte[] _key;
    private readonly byte[] _id;

    private BackupKey(byte[] key)
    {
        _key = key;
        var input = new byte[IdDomain.Length + key.Length];
        IdDomain.CopyTo(input, 0);
        key.CopyTo(input, IdDomain.Length);
        _id = SHA256.HashData(input).AsSpan(0, IdLength).ToArray();
        CryptographicOperations.ZeroMemory(input);
        Id = Convert.ToHexStringLower(_id);
    }

    /// <summary>The fingerprint (16 lowercase hex digits): safe to log and to record, reveals nothing of the key.</summary>
    public string Id { get; }

    internal ReadOnlySpan<byte> IdBytes => _id;

    internal ReadOnlySpan<byte> Bytes => _key;

    /// <summary>A key of exactly <see cref="Length"/> bytes.</summary>
    public static BackupKey FromBytes(ReadOnlySpan<byte> key)
    {
        if (key.Length != Length)
        {
            throw new ArgumentException($"A backup key is {Length} bytes (AES-256); this one is {key.Length}.", nameof(key));
        }

        return new BackupKey(key.ToArray());
    }

    /// <summary>The key as configured: base64 of 32 bytes (e.g. <c>openssl rand -base64 32</c>).</summary>
    public static BackupKey FromConfiguration(string base64)
    {
        ArgumentNullException.ThrowIfNull(base64);
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64.Trim());
        }
        catch (FormatException)
        {
            throw new ArgumentException(
                $"The backup key is not base64; configure {Length} random bytes in base64 (e.g. `openssl rand -base64 {Length}`).", nameof(base64));
        }

        if (key.Length != Length)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new ArgumentException(
                $"The backup key decodes to {key.Length} bytes; it must be {Length} (AES-256): e.g. `openssl rand -base64 {Length}`.", nameof(base64));
        }

        return new BackupKey(key);
    }

    /// <summary>
    /// A key derived (HKDF-SHA256) from the control plane's master key for one <paramref name="purpose"/>, so an
    /// installation that configures no backup key still encrypts, and a different purpose gives an unrelated key.
    /// </summary>
    public static BackupKey Derive(ReadOnlySpan<byte> masterKey, string purpose)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        if (masterKey.Length < 16)
        {
            throw new ArgumentException($"A master key to derive backup keys from needs at least 16 bytes; this one is {masterKey.Length}.", nameof(masterKey));
        }

        var key = new byte[Length];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, masterKey, key, salt: [], info: Encoding.UTF8.GetBytes("hoard-backup-key:" + purpose));
        return new BackupKey(key);
    }

    /// <summary>A new random key, for tests and for generating a configuration value.</summary>
    public static BackupKey Generate() => new(RandomNumberGenerator.GetBytes(Length));

    /// <summary>The key in the form <see cref="FromConfiguration"/> reads.</summary>
    public string ToConfiguration() => Convert.ToBase64String(_key);

    /// <summary>The id only: a key must never reach a log by accident.</summary>
    public override string ToString() => $"backup key {Id}";
}
