using Hoard.Abstractions.Backups;
using Xunit;

namespace Hoard.Abstractions.Tests;

/// <summary>
/// Backups stored before the current format must stay restorable. Fixtures/format-v1.hbk was sealed by the format 1
/// sealer (per-chunk Deflate, 4 KiB chunks: three compressible chunks, one random, a short final one) from
/// format-v1.plain with the key whose bytes are 0, 1, … 31.
/// </summary>
public sealed class BackupFormatV1Tests
{
    private const string Sha256 = "5555c99619140454f74be49cb65ba46fd7143dc20c0263a005a1bb4fb8c5825e";

    private static readonly BackupKey Key = BackupKey.FromBytes(Enumerable.Range(0, BackupKey.Length).Select(b => (byte)b).ToArray());

    [Fact]
    public async Task A_format_1_backup_still_opens_to_its_plaintext()
    {
        var stored = Fixture("format-v1.hbk");
        Assert.Equal(1, stored[8]);

        var restored = new MemoryStream();
        var count = await BackupEnvelope.OpenAsync(new MemoryStream(stored), restored, Key, Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout);

        Assert.Equal(Fixture("format-v1.plain"), restored.ToArray());
        Assert.Equal(restored.Length, count);
        await BackupEnvelope.VerifyAsync(new MemoryStream(stored), Key, Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout);
    }

    [Fact]
    public async Task A_format_1_backup_with_a_flipped_byte_is_still_refused()
    {
        var stored = Fixture("format-v1.hbk");
        stored[^30] ^= 1;

        var e = await Assert.ThrowsAsync<BackupIntegrityException>(
            () => BackupEnvelope.OpenAsync(new MemoryStream(stored), Stream.Null, Key, null, Deadline.Token()).WaitAsync(Deadline.Timeout));

        Assert.Equal(BackupIntegrityFailure.ChunkAuthentication, e.Failure);
    }

    private static byte[] Fixture(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));
}
