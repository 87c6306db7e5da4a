using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Hoard.Abstractions.Backups;

/// <summary>What <see cref="BackupEnvelope.SealAsync(Stream, Stream, BackupKey, CancellationToken)"/> wrote: what a
/// backup's metadata records.</summary>
/// <param name="StoredBytes">Bytes written to the destination (header and chunks).</param>
/// <param name="Sha256">SHA-256, lowercase hex, over exactly those bytes.</param>
/// <param name="PlaintextBytes">Bytes read from the plaintext.</param>
/// <param name="KeyId">The <see cref="BackupKey.Id"/> it is encrypted with.</param>
public sealed record SealedBackup(long StoredBytes, string Sha256, long PlaintextBytes, string KeyId);

/// <summary>
/// How a backup is stored: streamed in chunks, each compressed (<see cref="LzChunkCodec"/>) and encrypted and
/// authenticated (AES-256-GCM), the whole checksummed (SHA-256 over every stored byte). Chunks are compressed and
/// encrypted on several cores at once, and only a few are in memory at any time.
/// </summary>
/// <remarks>
/// <para>Layout (integers big-endian). Header, 32 bytes:</para>
/// <code>
///  0  8  magic "HOARDBAK"
///  8  1  format version (2; 1 is still read)
///  9  1  compression (2 = an LZ4 block per chunk (LzChunkCodec); format 1: 1 = raw Deflate per chunk)
/// 10  2  reserved, 0
/// 12  8  key id (BackupKey.Id: a fingerprint of the key, never the key)
/// 20  8  nonce prefix, random per backup
/// 28  4  chunk size: plaintext bytes in every chunk but the last
/// </code>
/// <para>Then chunks, each: flags (1 byte: 1 = final, 2 = compressed), length (4 bytes), ciphertext (length bytes, at
/// most the chunk size), GCM tag (16 bytes). Every chunk but the final one holds exactly chunk-size plaintext bytes;
/// the final one at most that (maybe none), and nothing follows it. A chunk is stored compressed only when that is
/// smaller; the codec gives up early on data that does not compress, so already-compressed data costs little.</para>
/// <para>Chunk i's nonce is the nonce prefix followed by i (4 bytes); its additional authenticated data is the whole
/// header, i (8 bytes) and its flags byte. So a chunk that is altered, moved, dropped, duplicated, taken from another
/// backup, or marked final early fails authentication, and a backup cut short lacks its final chunk.</para>
/// <para>Format 2 differs from format 1 only in the codec: format 1's Deflate (fastest level) compressed about 250 MB/s
/// a core and was most of a backup's time; the LZ codec has no entropy stage, so it is faster both ways at a somewhat
/// lower ratio (docs/PERFORMANCE.md has the figures). No checksum inside the codec: GCM and SHA-256 already cover
/// every byte. Each chunk is compressed on its own, so chunks can be compressed in parallel and incompressible ones
/// skipped.</para>
/// </remarks>
public static class BackupEnvelope
{
    /// <summary>Plaintext bytes per chunk unless told otherwise.</summary>
    public const int DefaultChunkSize = 1 << 20;

    public const int MinChunkSize = 4 << 10;

    /// <summary>Bounds what a reader allocates for a header it has not authenticated yet.</summary>
    public const int MaxChunkSize = 16 << 20;

    internal const int HeaderLength = 32;
    internal const int FrameHeaderLength = 5;
    internal const int TagLength = 16;
    internal const byte FormatVersion = 2;
    internal const byte LzCompression = 2;
    internal const byte FinalFlag = 1;
    internal const byte CompressedFlag = 2;

    /// <summary>Format 1, read but no longer written: the same layout with raw Deflate chunks.</summary>
    internal const byte DeflateFormatVersion = 1;
    internal const byte DeflateCompression = 1;

    private const int NoncePrefixLength = 8;
    private const int NonceLength = 12;
    private const int AadLength = HeaderLength + 8 + 1;
    private const int CopyBufferSize = 1 << 20;

    internal static ReadOnlySpan<byte> Magic => "HOARDBAK"u8;

    /// <summary>Chunks sealed or opened at once: one a core, within reason, and at least two so I/O overlaps work.</summary>
    private static int Parallelism => Math.Clamp(Environment.ProcessorCount, 2, 8);

    /// <summary>
    /// Reads <paramref name="plaintext"/> to its end and writes it, sealed, to <paramref name="destination"/>, which it
    /// leaves open (and does not flush to disk: storage does that on commit).
    /// </summary>
    public static Task<SealedBackup> SealAsync(Stream plaintext, Stream destination, BackupKey key, CancellationToken cancellationToken) =>
        SealAsync(plaintext, destination, key, DefaultChunkSize, cancellationToken);

    /// <inheritdoc cref="SealAsync(Stream, Stream, BackupKey, CancellationToken)"/>
    public static async Task<SealedBackup> SealAsync(
        Stream plaintext, Stream destination, BackupKey key, int chunkSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, MinChunkSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(chunkSize, MaxChunkSize);

        var header = new byte[HeaderLength];
        Magic.CopyTo(header);
        header[8] = FormatVersion;
        header[9] = LzCompression;
        key.IdBytes.CopyTo(header.AsSpan(12, BackupKey.IdLength));
        RandomNumberGenerator.Fill(header.AsSpan(20, NoncePrefixLength));
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(28), chunkSize);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var pipeline = new ChunkPipeline(key, header, chunkSize);
        long storedBytes = 0;
        long plaintextBytes = 0;
        try
        {
            hash.AppendData(header);
            await destination.WriteAsync(header, cancellationToken);
            storedBytes += header.Length;

            // Read, seal on the thread pool, write in order: reading and writing overlap sealing of the chunks between.
            long index = 0;
            var final = false;
            while (!final)
            {
                var chunk = pipeline.TryTakeFree() ?? await WriteOldestAsync();
                var read = await plaintext.ReadAtLeastAsync(chunk.Plain, chunkSize, throwOnEndOfStream: false, cancellationToken);
                plaintextBytes += read;
                var last = read < chunkSize;
                final = last;
                var at = index++;
                if (at > uint.MaxValue)
                {
                    throw new InvalidOperationException("The backup has more chunks than the format can number; use a larger chunk size.");
                }

                pipeline.Start(chunk, () => chunk.Seal(at, read, last), cancellationToken);
            }

            while (pipeline.Busy)
            {
                pipeline.Release(await WriteOldestAsync());
            }

            await destination.FlushAsync(cancellationToken);
        }
        finally
        {
            await pipeline.DisposeAsync();
        }

        return new SealedBackup(storedBytes, Convert.ToHexStringLower(hash.GetHashAndReset()), plaintextBytes, key.Id);

        async Task<Chunk> WriteOldestAsync()
        {
            var chunk = await pipeline.TakeOldestAsync();
            hash.AppendData(chunk.Frame, 0, chunk.FrameLength);
            await destination.WriteAsync(chunk.Frame.AsMemory(0, chunk.FrameLength), cancellationToken);
            storedBytes += chunk.FrameLength;
            return chunk;
        }
    }

    /// <summary>
    /// Verifies and decrypts a sealed backup into <paramref name="plaintextDestination"/>, returning the plaintext byte
    /// count; throws <see cref="BackupIntegrityException"/> saying what is wrong.
    /// </summary>
    /// <remarks>
    /// Checks stream with the data: the key id before any decryption, each chunk as it is read, the end and (given
    /// <paramref name="expectedSha256"/>) the checksum only once the last byte is read. Plaintext written before a
    /// failure is unverified, so write it somewhere temporary and use it only after this returns. When a check fails
    /// and <paramref name="expectedSha256"/> is given, the rest of the stored bytes are still hashed, so damaged
    /// storage is reported as a checksum mismatch (with the first failing check as the inner exception).
    /// </remarks>
    public static Task<long> OpenAsync(
        Stream stored, Stream plaintextDestination, BackupKey key, string? expectedSha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plaintextDestination);
        return OpenCoreAsync(stored, plaintextDestination, key, expectedSha256, cancellationToken);
    }

    /// <summary>
    /// Every check <see cref="OpenAsync"/> makes (header, key, every chunk's authentication, the end, the checksum),
    /// without decompressing or producing plaintext.
    /// </summary>
    public static Task VerifyAsync(Stream stored, BackupKey key, string expectedSha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expectedSha256);
        return OpenCoreAsync(stored, null, key, expectedSha256, cancellationToken);
    }

    private static async Task<long> OpenCoreAsync(
        Stream stored, Stream? plaintextDestination, BackupKey key, string? expectedSha256, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(key);
        if (expectedSha256 is not null && (expectedSha256.Length != 64 || !expectedSha256.All(char.IsAsciiHexDigit)))
        {
            throw new ArgumentException("The expected SHA-256 must be 64 hex digits.", nameof(expectedSha256));
        }

        using var reader = new HashingReader(stored);
        try
        {
            var header = await ReadHeaderAsync(reader, key, cancellationToken);
            var plaintextBytes = await OpenChunksAsync(reader, header, plaintextDestination, key, cancellationToken);
            if (expectedSha256 is not null)
            {
                var actual = reader.Sha256();
                if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw ChecksumMismatch(expectedSha256, actual, null);
                }
            }

            return plaintextBytes;
        }
        catch (BackupIntegrityException e) when (expectedSha256 is not null && e.Failure != BackupIntegrityFailure.ChecksumMismatch)
        {
            // Damaged storage explains most failures; the checksum says so plainly, the inner exception says where.
            var actual = await reader.HashRestAsync(cancellationToken);
            if (!string.Equals(actual, expectedSha256, StringComparison.OrdinalIgnoreCase))
            {
                throw ChecksumMismatch(expectedSha256, actual, e);
            }

            throw;
        }
    }

    private static async Task<byte[]> ReadHeaderAsync(HashingReader reader, BackupKey key, CancellationToken cancellationToken)
    {
        var header = new byte[HeaderLength];
        var read = await reader.ReadAsync(header, cancellationToken);
        if (read < HeaderLength || !header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new BackupIntegrityException(
                BackupIntegrityFailure.NotABackup, "Not a Hoard backup: the stored bytes do not start with a Hoard backup header.");
        }

        var known = (header[8], header[9]) is (FormatVersion, LzCompression) or (DeflateFormatVersion, DeflateCompression);
        if (!known || header[10] != 0 || header[11] != 0)
        {
            throw new BackupIntegrityException(
                BackupIntegrityFailure.UnsupportedVersion,
                $"Unknown Hoard backup format (version {header[8]}, compression {header[9]}); this Hoard reads versions {DeflateFormatVersion} and {FormatVersion}.");
        }

        var keyId = header.AsSpan(12, BackupKey.IdLength);
        if (!keyId.SequenceEqual(key.IdBytes))
        {
            throw new BackupIntegrityException(
                BackupIntegrityFailure.WrongKey,
                $"The backup was encrypted with another key: its key id is {Convert.ToHexStringLower(keyId)}, the configured key's id is {key.Id}.");
        }

        var chunkSize = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(28));
        if (chunkSize is < MinChunkSize or > MaxChunkSize)
        {
            throw new BackupIntegrityException(BackupIntegrityFailure.Malformed, $"The backup header names an impossible chunk size ({chunkSize}).");
        }

        return header;
    }

    private static async Task<long> OpenChunksAsync(
        HashingReader reader, byte[] header, Stream? destination, BackupKey key, CancellationToken cancellationToken)
    {
        var chunkSize = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(28));
        var pipeline = new ChunkPipeline(key, header, chunkSize);
        var frameHeader = new byte[FrameHeaderLength];
        long plaintextBytes = 0;
        try
        {
            long index = 0;
            var final = false;
            while (!final)
            {
                var chunk = pipeline.TryTakeFree() ?? await WriteOldestAsync();
                try
                {
                    var (flags, length) = await ReadFrameAsync(reader, chunk, frameHeader, index, chunkSize, cancellationToken);
                    final = (flags & FinalFlag) != 0;
                    var at = index++;
                    pipeline.Start(chunk, () => chunk.Open(at, flags, length, decompress: destination is not null), cancellationToken);
                    if (final && await reader.ReadAsync(frameHeader.AsMemory(0, 1), cancellationToken) > 0)
                    {
                        throw new BackupIntegrityException(BackupIntegrityFailure.Malformed, $"The backup has bytes after its final chunk ({at}).");
                    }
                }
                catch (BackupIntegrityException)
                {
                    // A chunk already read may have failed first: report the earliest failure.
                    while (pipeline.Busy)
                    {
                        pipeline.Release(await WriteOldestAsync());
                    }

                    throw;
                }
            }

            while (pipeline.Busy)
            {
                pipeline.Release(await WriteOldestAsync());
            }

            return plaintextBytes;
        }
        finally
        {
            await pipeline.DisposeAsync();
        }

        async Task<Chunk> WriteOldestAsync()
        {
            var chunk = await pipeline.TakeOldestAsync();
            if (destination is not null)
            {
                await destination.WriteAsync(chunk.Output.AsMemory(0, chunk.OutputLength), cancellationToken);
            }

            plaintextBytes += chunk.OutputLength;
            return chunk;
        }
    }

    /// <summary>Reads one chunk's frame into <paramref name="chunk"/>, checking what can be checked before decryption.</summary>
    private static async Task<(byte Flags, int Length)> ReadFrameAsync(
        HashingReader reader, Chunk chunk, byte[] frameHeader, long index, int chunkSize, CancellationToken cancellationToken)
    {
        if (await reader.ReadAsync(frameHeader, cancellationToken) < FrameHeaderLength)
        {
            throw new BackupIntegrityException(
                BackupIntegrityFailure.Truncated, $"The backup is truncated: it ends at chunk {index} without its final chunk.");
        }

        var flags = frameHeader[0];
        var length = BinaryPrimitives.ReadInt32BigEndian(frameHeader.AsSpan(1));
        var final = (flags & FinalFlag) != 0;
        var compressed = (flags & CompressedFlag) != 0;
        if ((flags & ~(FinalFlag | CompressedFlag)) != 0 || length < 0 || length > chunkSize || (!final && !compressed && length != chunkSize)
            || index > uint.MaxValue)
        {
            throw new BackupIntegrityException(
                BackupIntegrityFailure.ChunkAuthentication,
                $"The backup's integrity check failed at chunk {index}: its frame is malformed (flags {flags}, length {length}).");
        }

        var sealedLength = length + TagLength;
        if (await reader.ReadAsync(chunk.Frame.AsMemory(0, sealedLength), cancellationToken) < sealedLength)
        {
            throw new BackupIntegrityException(
                BackupIntegrityFailure.Truncated, $"The backup is truncated: it ends inside chunk {index}, without its final chunk.");
        }

        return (flags, length);
    }

    private static BackupIntegrityException ChecksumMismatch(string expected, string actual, BackupIntegrityException? first) =>
        new(
            BackupIntegrityFailure.ChecksumMismatch,
            $"Checksum mismatch: the stored bytes do not match the recorded SHA-256 {expected.ToLowerInvariant()} (they hash to {actual}); "
            + "the backup was damaged or altered in storage and is not restored."
            + (first is null ? string.Empty : $" First failed check: {first.Message}"),
            first);

    /// <summary>
    /// Chunks being sealed or opened on the thread pool, taken back in the order they started, with the buffers of the
    /// idle ones kept for reuse: at most <see cref="Parallelism"/> + 1 chunks exist.
    /// </summary>
    private sealed class ChunkPipeline(BackupKey key, byte[] header, int chunkSize) : IAsyncDisposable
    {
        private readonly Queue<Task<Chunk>> _running = new();
        private readonly Stack<Chunk> _free = new();
        private readonly List<Chunk> _all = [];

        public bool Busy => _running.Count > 0;

        /// <summary>An idle chunk, or null when all are running and the oldest must be taken back first.</summary>
        public Chunk? TryTakeFree()
        {
            if (_free.TryPop(out var chunk))
            {
                return chunk;
            }

            if (_all.Count > Parallelism)
            {
                return null;
            }

            chunk = new Chunk(key, header, chunkSize);
            _all.Add(chunk);
            return chunk;
        }

        public void Start(Chunk chunk, Action work, CancellationToken cancellationToken) =>
            _running.Enqueue(Task.Run(
                () =>
                {
                    work();
                    return chunk;
                },
                cancellationToken));

        public Task<Chunk> TakeOldestAsync() => _running.Dequeue();

        public void Release(Chunk chunk) => _free.Push(chunk);

        public async ValueTask DisposeAsync()
        {
            // After a failure, let every running chunk finish before its buffers and cipher go away.
            while (_running.TryDequeue(out var running))
            {
                try
                {
                    await running;
                }
                catch (Exception)
                {
                    // The failure that matters is already on its way to the caller.
                }
            }

            foreach (var chunk in _all)
            {
                chunk.Dispose();
            }
        }
    }

    /// <summary>One chunk's buffers and cipher: seals plaintext into a frame, or opens a frame into plaintext.</summary>
    private sealed class Chunk : IDisposable
    {
        private readonly AesGcm _aes;
        private readonly byte[] _header;
        private readonly int _chunkSize;

        /// <summary>Sealing: the compressed plaintext. Opening: a compressed chunk's decrypted payload.</summary>
        private readonly byte[] _packed;

        public Chunk(BackupKey key, byte[] header, int chunkSize)
        {
            _aes = new AesGcm(key.Bytes, TagLength);
            _header = header;
            _chunkSize = chunkSize;
            Plain = new byte[chunkSize];
            Frame = new byte[FrameHeaderLength + chunkSize + TagLength];
            _packed = new byte[chunkSize];
        }

        /// <summary>Sealing: the plaintext to seal. Opening: where a compressed chunk is decompressed to.</summary>
        public byte[] Plain { get; }

        /// <summary>Sealing: the frame to write. Opening: the ciphertext and tag read (without the frame header).</summary>
        public byte[] Frame { get; }

        public int FrameLength { get; private set; }

        /// <summary>Opening: the chunk's plaintext (meaningless when only verifying, which writes none).</summary>
        public byte[] Output => Plain;

        public int OutputLength { get; private set; }

        public void Seal(long index, int length, bool final)
        {
            var flags = final ? FinalFlag : (byte)0;
            ReadOnlySpan<byte> payload = Plain.AsSpan(0, length);

            // Stored compressed only when that is smaller: the codec gives up when it would not be.
            var compressed = length == 0 ? -1 : LzChunkCodec.Compress(payload, _packed.AsSpan(0, length - 1));
            if (compressed >= 0)
            {
                flags |= CompressedFlag;
                payload = _packed.AsSpan(0, compressed);
            }

            Span<byte> nonce = stackalloc byte[NonceLength];
            Span<byte> aad = stackalloc byte[AadLength];
            WriteNonceAndAad(nonce, aad, index, flags);
            Frame[0] = flags;
            BinaryPrimitives.WriteInt32BigEndian(Frame.AsSpan(1), payload.Length);
            _aes.Encrypt(
                nonce, payload, Frame.AsSpan(FrameHeaderLength, payload.Length), Frame.AsSpan(FrameHeaderLength + payload.Length, TagLength), aad);
            FrameLength = FrameHeaderLength + payload.Length + TagLength;
        }

        public void Open(long index, byte flags, int length, bool decompress)
        {
            Span<byte> nonce = stackalloc byte[NonceLength];
            Span<byte> aad = stackalloc byte[AadLength];
            WriteNonceAndAad(nonce, aad, index, flags);
            var compressed = (flags & CompressedFlag) != 0;
            var decrypted = compressed ? _packed : Plain;
            try
            {
                _aes.Decrypt(nonce, Frame.AsSpan(0, length), Frame.AsSpan(length, TagLength), decrypted.AsSpan(0, length), aad);
            }
            catch (AuthenticationTagMismatchException e)
            {
                throw new BackupIntegrityException(
                    BackupIntegrityFailure.ChunkAuthentication,
                    $"The backup's integrity check failed at chunk {index}: it was altered, reordered or does not belong to this backup.",
                    e);
            }

            OutputLength = length;
            if (compressed && decompress)
            {
                OutputLength = _header[9] == DeflateCompression ? Inflate(length, index) : Decompress(length, index);
            }

            var final = (flags & FinalFlag) != 0;
            if (decompress && !final && OutputLength != _chunkSize)
            {
                throw new BackupIntegrityException(
                    BackupIntegrityFailure.Malformed, $"Chunk {index} holds {OutputLength} bytes where {_chunkSize} were expected.");
            }
        }

        public void Dispose() => _aes.Dispose();

        private int Decompress(int length, long index)
        {
            try
            {
                return LzChunkCodec.Decompress(_packed.AsSpan(0, length), Plain);
            }
            catch (InvalidDataException e)
            {
                // Authenticated, so written wrong rather than damaged in storage.
                throw new BackupIntegrityException(BackupIntegrityFailure.Malformed, $"Chunk {index}'s compressed data is invalid: {e.Message}", e);
            }
        }

        /// <summary>Format 1's chunks.</summary>
        private int Inflate(int length, long index)
        {
            try
            {
                using var input = new MemoryStream(_packed, 0, length, writable: false);
                using var inflate = new DeflateStream(input, CompressionMode.Decompress);
                var inflated = inflate.ReadAtLeast(Plain, Plain.Length, throwOnEndOfStream: false);
                Span<byte> probe = stackalloc byte[1];
                if (inflated == Plain.Length && inflate.Read(probe) > 0)
                {
                    throw new BackupIntegrityException(
                        BackupIntegrityFailure.Malformed, $"Chunk {index} inflates to more than the chunk size ({_chunkSize}).");
                }

                return inflated;
            }
            catch (InvalidDataException e)
            {
                // Authenticated, so written wrong rather than damaged in storage.
                throw new BackupIntegrityException(BackupIntegrityFailure.Malformed, $"Chunk {index}'s compressed data is invalid: {e.Message}", e);
            }
        }

        private void WriteNonceAndAad(Span<byte> nonce, Span<byte> aad, long index, byte flags)
        {
            _header.AsSpan(20, NoncePrefixLength).CopyTo(nonce);
            BinaryPrimitives.WriteUInt32BigEndian(nonce[NoncePrefixLength..], checked((uint)index));
            _header.CopyTo(aad);
            BinaryPrimitives.WriteInt64BigEndian(aad[HeaderLength..], index);
            aad[HeaderLength + 8] = flags;
        }
    }

    /// <summary>Reads the stored bytes, hashing every byte read, so the checksum covers exactly what was read.</summary>
    private sealed class HashingReader(Stream stored) : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        /// <summary>Fills as much of <paramref name="buffer"/> as the stream has.</summary>
        public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            var read = await stored.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
            _hash.AppendData(buffer.Span[..read]);
            return read;
        }

        public string Sha256() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        /// <summary>After a failed check: hashes what is left, for the whole stored bytes' hash.</summary>
        public async Task<string> HashRestAsync(CancellationToken cancellationToken)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                while (await ReadAsync(buffer, cancellationToken) > 0)
                {
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return Sha256();
        }

        public void Dispose() => _hash.Dispose();
    }
}
