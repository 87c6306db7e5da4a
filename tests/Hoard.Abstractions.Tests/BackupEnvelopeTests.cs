using System.Buffers.Binary;
using System.Security.Cryptography;
using Hoard.Abstractions.Backups;
using Xunit;

namespace Hoard.Abstractions.Tests;

public sealed class BackupEnvelopeTests
{
    private const int HeaderLength = 32;
    private const int SmallChunk = BackupEnvelope.MinChunkSize;

    private readonly BackupKey _key = BackupKey.Generate();

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(BackupEnvelope.DefaultChunkSize)]
    [InlineData(3 * BackupEnvelope.DefaultChunkSize + 17)]
    public async Task Random_plaintext_comes_back_byte_for_byte(int length)
    {
        var plaintext = RandomNumberGenerator.GetBytes(length);

        var (stored, sealedBackup) = await SealAsync(plaintext);
        var restored = await OpenAsync(stored, sealedBackup.Sha256);

        Assert.Equal(plaintext, restored);
        Assert.Equal(length, sealedBackup.PlaintextBytes);
        Assert.Equal(stored.Length, sealedBackup.StoredBytes);
        Assert.Equal(_key.Id, sealedBackup.KeyId);
    }

    [Fact]
    public async Task Plaintext_that_exactly_fills_a_chunk_comes_back_with_an_empty_final_chunk()
    {
        var plaintext = RandomNumberGenerator.GetBytes(SmallChunk);

        var (stored, sealedBackup) = await SealAsync(plaintext, SmallChunk);

        Assert.Equal(HeaderLength + FrameLength(SmallChunk) + FrameLength(0), stored.Length);
        Assert.Equal(plaintext, await OpenAsync(stored, sealedBackup.Sha256));
    }

    [Fact]
    public async Task Compressible_and_incompressible_chunks_mix_in_one_backup()
    {
        var compressible = new byte[3 * SmallChunk];
        new RepeatingStream(RepeatingStream.CompressibleBlock(), compressible.Length).ReadExactly(compressible);
        byte[] plaintext = [.. compressible, .. RandomNumberGenerator.GetBytes(2 * SmallChunk), .. compressible];

        var (stored, sealedBackup) = await SealAsync(plaintext, SmallChunk);

        Assert.InRange(stored.Length, 2 * SmallChunk, plaintext.Length - SmallChunk);
        Assert.Equal(plaintext, await OpenAsync(stored, sealedBackup.Sha256));
    }

    [Fact]
    public async Task Mixed_multi_chunk_input_comes_back_and_the_checksum_is_the_stored_files_sha256()
    {
        using var directory = new TempDirectory();
        var file = Path.Combine(directory.Path, "backup.hbk");
        var random = RandomNumberGenerator.GetBytes(5 << 20);
        var compressible = new RepeatingStream(RepeatingStream.CompressibleBlock(), 20 << 20);
        var plaintext = new MemoryStream();
        plaintext.Write(random);
        await compressible.CopyToAsync(plaintext, Deadline.Token()).WaitAsync(Deadline.Timeout);
        var plaintextSha = Convert.ToHexStringLower(SHA256.HashData(plaintext.ToArray()));
        plaintext.Position = 0;

        SealedBackup sealedBackup;
        await using (var destination = File.Create(file))
        {
            sealedBackup = await BackupEnvelope.SealAsync(plaintext, destination, _key, Deadline.Token()).WaitAsync(Deadline.Timeout);
        }

        Assert.Equal(new FileInfo(file).Length, sealedBackup.StoredBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))), sealedBackup.Sha256);
        Assert.True(sealedBackup.StoredBytes < 6 << 20, $"25 MiB of which 20 compressible stored as {sealedBackup.StoredBytes} bytes");

        using var sink = new HashingSink();
        await using (var stored = File.OpenRead(file))
        {
            var count = await BackupEnvelope.OpenAsync(stored, sink, _key, sealedBackup.Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout);
            Assert.Equal(25 << 20, count);
        }

        Assert.Equal(plaintextSha, sink.Sha256());
        await using (var stored = File.OpenRead(file))
        {
            await BackupEnvelope.VerifyAsync(stored, _key, sealedBackup.Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout);
        }
    }

    [Fact]
    public async Task The_same_plaintext_sealed_twice_is_stored_differently()
    {
        var plaintext = RandomNumberGenerator.GetBytes(1000);
        var (first, _) = await SealAsync(plaintext);
        var (second, _) = await SealAsync(plaintext);

        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task A_flipped_byte_is_refused_naming_the_chunk_it_is_in()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(10 * SmallChunk), SmallChunk);
        var offset = stored.Length / 2;
        stored[offset] ^= 0x40;
        var chunk = (offset - HeaderLength) / FrameLength(SmallChunk);

        var e = await OpenFailsAsync(stored, expectedSha256: null);

        Assert.Equal(BackupIntegrityFailure.ChunkAuthentication, e.Failure);
        Assert.Contains($"integrity check failed at chunk {chunk}", e.Message);
    }

    [Fact]
    public async Task A_flipped_byte_with_a_recorded_checksum_is_refused_as_a_checksum_mismatch()
    {
        var (stored, sealedBackup) = await SealAsync(RandomNumberGenerator.GetBytes(10 * SmallChunk), SmallChunk);
        stored[stored.Length / 2] ^= 0x01;

        var e = await OpenFailsAsync(stored, sealedBackup.Sha256);

        Assert.Equal(BackupIntegrityFailure.ChecksumMismatch, e.Failure);
        Assert.Contains("stored bytes do not match the recorded SHA-256", e.Message);
        Assert.Contains(sealedBackup.Sha256, e.Message);
        var verify = await Assert.ThrowsAsync<BackupIntegrityException>(
            () => BackupEnvelope.VerifyAsync(new MemoryStream(stored), _key, sealedBackup.Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout));
        Assert.Equal(BackupIntegrityFailure.ChecksumMismatch, verify.Failure);
    }

    [Fact]
    public async Task Intact_bytes_with_a_different_recorded_checksum_are_refused()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(100));

        var e = await OpenFailsAsync(stored, new string('0', 64));

        Assert.Equal(BackupIntegrityFailure.ChecksumMismatch, e.Failure);
    }

    [Fact]
    public async Task Another_key_is_refused_naming_both_key_ids()
    {
        var (stored, sealedBackup) = await SealAsync(RandomNumberGenerator.GetBytes(100));
        var other = BackupKey.Generate();

        var e = await Assert.ThrowsAsync<BackupIntegrityException>(
            () => BackupEnvelope.OpenAsync(new MemoryStream(stored), new MemoryStream(), other, sealedBackup.Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout));

        Assert.Equal(BackupIntegrityFailure.WrongKey, e.Failure);
        Assert.Contains("encrypted with another key", e.Message);
        Assert.Contains(_key.Id, e.Message);
        Assert.Contains(other.Id, e.Message);
    }

    [Fact]
    public async Task A_backup_cut_at_a_chunk_boundary_is_refused_as_truncated()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(5 * SmallChunk), SmallChunk);
        var cut = stored.AsSpan(0, HeaderLength + (3 * FrameLength(SmallChunk))).ToArray();

        var e = await OpenFailsAsync(cut, expectedSha256: null);

        Assert.Equal(BackupIntegrityFailure.Truncated, e.Failure);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public async Task A_backup_cut_inside_a_chunk_is_refused_as_truncated()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(5 * SmallChunk), SmallChunk);

        var e = await OpenFailsAsync(stored.AsSpan(0, stored.Length - 7).ToArray(), expectedSha256: null);

        Assert.Equal(BackupIntegrityFailure.Truncated, e.Failure);
    }

    [Fact]
    public async Task Swapped_chunks_are_refused()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(5 * SmallChunk), SmallChunk);
        var frame = FrameLength(SmallChunk);
        var first = stored.AsSpan(HeaderLength + frame, frame).ToArray();
        stored.AsSpan(HeaderLength + (2 * frame), frame).CopyTo(stored.AsSpan(HeaderLength + frame));
        first.CopyTo(stored.AsSpan(HeaderLength + (2 * frame)));

        var e = await OpenFailsAsync(stored, expectedSha256: null);

        Assert.Equal(BackupIntegrityFailure.ChunkAuthentication, e.Failure);
        Assert.Contains("chunk 1", e.Message);
    }

    [Fact]
    public async Task A_dropped_or_duplicated_chunk_is_refused()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(5 * SmallChunk), SmallChunk);
        var frame = FrameLength(SmallChunk);
        var dropped = stored.AsSpan(0, HeaderLength + frame).ToArray().Concat(stored.AsSpan(HeaderLength + (2 * frame)).ToArray()).ToArray();
        var duplicated = stored.AsSpan(0, HeaderLength + (2 * frame)).ToArray().Concat(stored.AsSpan(HeaderLength + frame).ToArray()).ToArray();

        Assert.Equal(BackupIntegrityFailure.ChunkAuthentication, (await OpenFailsAsync(dropped, null)).Failure);
        Assert.Equal(BackupIntegrityFailure.ChunkAuthentication, (await OpenFailsAsync(duplicated, null)).Failure);
    }

    [Fact]
    public async Task A_chunk_marked_final_early_is_refused()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(5 * SmallChunk), SmallChunk);
        var frame = FrameLength(SmallChunk);
        var cut = stored.AsSpan(0, HeaderLength + (2 * frame)).ToArray();
        cut[HeaderLength + frame] = 1;

        var e = await OpenFailsAsync(cut, null);

        Assert.Equal(BackupIntegrityFailure.ChunkAuthentication, e.Failure);
        Assert.Contains("chunk 1", e.Message);
    }

    [Fact]
    public async Task A_chunk_from_another_backup_with_the_same_key_is_refused()
    {
        var plaintext = RandomNumberGenerator.GetBytes(5 * SmallChunk);
        var (stored, _) = await SealAsync(plaintext, SmallChunk);
        var (other, _) = await SealAsync(plaintext, SmallChunk);
        var frame = FrameLength(SmallChunk);
        other.AsSpan(HeaderLength + frame, frame).CopyTo(stored.AsSpan(HeaderLength + frame));

        Assert.Equal(BackupIntegrityFailure.ChunkAuthentication, (await OpenFailsAsync(stored, null)).Failure);
    }

    [Fact]
    public async Task Bytes_after_the_final_chunk_are_refused()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(100));

        var e = await OpenFailsAsync([.. stored, 0], null);

        Assert.Equal(BackupIntegrityFailure.Malformed, e.Failure);
    }

    [Theory]
    [InlineData("")]
    [InlineData("PGDMP this is a pg_dump, not a Hoard backup, and long enough to hold a header")]
    public async Task Bytes_that_are_not_a_hoard_backup_are_refused(string content)
    {
        var e = await OpenFailsAsync(System.Text.Encoding.ASCII.GetBytes(content), null);

        Assert.Equal(BackupIntegrityFailure.NotABackup, e.Failure);
        Assert.Contains("Not a Hoard backup", e.Message);
    }

    [Fact]
    public async Task An_unknown_format_version_is_refused()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(100));
        stored[8] = 3;

        var e = await OpenFailsAsync(stored, null);

        Assert.Equal(BackupIntegrityFailure.UnsupportedVersion, e.Failure);
        Assert.Contains("version 3", e.Message);
    }

    [Fact]
    public async Task Format_1s_codec_named_in_a_format_2_header_is_refused()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(100));
        stored[9] = 1;

        var e = await OpenFailsAsync(stored, null);

        Assert.Equal(BackupIntegrityFailure.UnsupportedVersion, e.Failure);
    }

    [Fact]
    public async Task The_header_layout_is_as_documented()
    {
        var (stored, _) = await SealAsync(RandomNumberGenerator.GetBytes(100), SmallChunk);

        Assert.Equal("HOARDBAK"u8.ToArray(), stored[..8]);
        Assert.Equal(2, stored[8]);
        Assert.Equal(2, stored[9]);
        Assert.Equal(_key.Id, Convert.ToHexStringLower(stored.AsSpan(12, 8)));
        Assert.Equal(SmallChunk, BinaryPrimitives.ReadInt32BigEndian(stored.AsSpan(28)));
        Assert.Equal(1, stored[HeaderLength]);
    }

    private static int FrameLength(int payload) => 5 + payload + 16;

    private async Task<(byte[] Stored, SealedBackup Sealed)> SealAsync(byte[] plaintext, int chunkSize = BackupEnvelope.DefaultChunkSize)
    {
        var destination = new MemoryStream();
        var sealedBackup = await BackupEnvelope.SealAsync(new MemoryStream(plaintext), destination, _key, chunkSize, Deadline.Token())
            .WaitAsync(Deadline.Timeout);
        return (destination.ToArray(), sealedBackup);
    }

    private async Task<byte[]> OpenAsync(byte[] stored, string? expectedSha256)
    {
        var destination = new MemoryStream();
        var count = await BackupEnvelope.OpenAsync(new MemoryStream(stored), destination, _key, expectedSha256, Deadline.Token())
            .WaitAsync(Deadline.Timeout);
        Assert.Equal(destination.Length, count);
        return destination.ToArray();
    }

    private Task<BackupIntegrityException> OpenFailsAsync(byte[] stored, string? expectedSha256) =>
        Assert.ThrowsAsync<BackupIntegrityException>(() => OpenAsync(stored, expectedSha256));
}
