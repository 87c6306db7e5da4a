using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using Hoard.Abstractions.Backups;

namespace Hoard.Bench;

/// <summary>
/// The format 1 sealer (per-chunk Deflate, fastest level) as it was before format 2, kept here only so the seal bench
/// can time before and after in the same run on the same machine. Only the sealing half: what it writes is opened by
/// Hoard's own <see cref="BackupEnvelope.OpenAsync(Stream, Stream, BackupKey, string?, CancellationToken)"/>, which
/// still reads format 1.
/// </summary>
internal static class FormatOneSealer
{
    /// <summary>Plaintext bytes per chunk unless told otherwise.</summary>
    public const int DefaultChunkSize = 1 << 20;

    public const int MinChunkSize = 4 << 10;

    /// <summary>Bounds what a reader allocates for a header it has not authenticated yet.</summary>
    public const int MaxChunkSize = 16 << 20;

    internal const int HeaderLength = 32;
    internal const int FrameHeaderLength = 5;
    internal const int TagLength = 16;
    internal const byte FormatVersion = 1;
    internal const byte DeflateCompression = 1;
    internal const byte FinalFlag = 1;
    internal const byte DeflatedFlag = 2;

    private const int NoncePrefixLength = 8;
    private const int NonceLength = 12;
    private const int AadLength = HeaderLength + 8 + 1;
    private const int CopyBufferSize = 1 << 20;

    /// <summary>How much of a chunk is compressed before deciding whether compressing it is worth it.</summary>
    private const int CompressibilitySample = 64 << 10;

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
        header[9] = DeflateCompression;
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
        private readonly MemoryStream _compressed;

        public Chunk(BackupKey key, byte[] header, int chunkSize)
        {
            _aes = new AesGcm(key.Bytes, TagLength);
            _header = header;
            _chunkSize = chunkSize;
            Plain = new byte[chunkSize];
            Frame = new byte[FrameHeaderLength + chunkSize + TagLength];
            _compressed = new MemoryStream();
        }

        /// <summary>Sealing: the plaintext to seal. Opening: where a deflated chunk is inflated to.</summary>
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
            if (TryDeflate(length))
            {
                flags |= DeflatedFlag;
                payload = _compressed.GetBuffer().AsSpan(0, (int)_compressed.Length);
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

        public void Dispose()
        {
            _aes.Dispose();
            _compressed.Dispose();
        }

        /// <summary>Opening reuses the compression buffer for a deflated chunk's decrypted payload.</summary>
        private byte[] CompressedBuffer()
        {
            if (_compressed.Capacity < _chunkSize)
            {
                _compressed.Capacity = _chunkSize;
            }

            return _compressed.GetBuffer();
        }

        /// <summary>Deflates the plaintext into <see cref="_compressed"/>; false when storing it as it is is smaller.</summary>
        private bool TryDeflate(int length)
        {
            if (length == 0)
            {
                return false;
            }

            _compressed.SetLength(0);
            using var deflate = new DeflateStream(_compressed, CompressionLevel.Fastest, leaveOpen: true);
            var sample = Math.Min(length, CompressibilitySample);
            deflate.Write(Plain, 0, sample);
            if (sample < length)
            {
                // Already-compressed or encrypted data: give up after the sample rather than deflate it all for nothing.
                deflate.Flush();
                if (_compressed.Length > sample - (sample / 32))
                {
                    return false;
                }

                deflate.Write(Plain, sample, length - sample);
            }

            deflate.Dispose();
            return _compressed.Length < length;
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
}
