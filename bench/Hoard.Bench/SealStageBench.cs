using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Hoard.Abstractions.Backups;

namespace Hoard.Bench;

/// <summary>
/// Where the sealer's time goes: each stage of <see cref="BackupEnvelope"/> (Deflate and the alternatives the BCL has,
/// AES-256-GCM, SHA-256, a plain copy) timed alone on one thread over the same chunks, then the whole sealer and opener
/// memory to memory, on ~1 GB of database-like pages and on random bytes. No engines, no disk: this is CPU only.
/// </summary>
internal static class SealStageBench
{
    private static readonly string[] Kinds = ["login", "logout", "purchase", "refund", "view", "search", "signup", "cancel"];
    private static readonly string[] Cities = ["Lyon", "Porto", "Gdansk", "Leeds", "Bologna", "Tartu", "Ghent", "Malmo", "Split", "Cork"];
    private static readonly string[] Words = ["fast", "delivery", "ordered", "twice", "blue", "small", "gift", "return", "late", "again", "coupon", "member", "mobile"];

    public static async Task RunAsync(int megabytes, int rounds, Action<string> line, CancellationToken cancellationToken)
    {
        var loadAverage = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        line($"machine: {Environment.ProcessorCount} cores, {File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim()}, load average {loadAverage}");
        line($"stages on {megabytes} MB, one thread, 1 MiB chunks unless said; best of {rounds}; MB/s of plaintext (MiB)");
        var pages = PostgresLikePages(megabytes);
        var random = new byte[(long)megabytes << 20];
        Random.Shared.NextBytes(random);
        foreach (var (name, data) in new[] { ("pages", pages), ("random", random) })
        {
            line(string.Empty);
            line($"{name}: {data.Length >> 20} MiB");
            await StagesAsync(data, rounds, allCodecs: name == "pages", line, cancellationToken);
        }
    }

    /// <summary>
    /// 8 KiB heap pages as PostgreSQL lays them out for the backup bench's events table: a page header, line pointers
    /// from the front, tuples (23-byte header, id, timestamp, four short texts) from the back, free space between.
    /// </summary>
    private static byte[] PostgresLikePages(int megabytes)
    {
        var data = new byte[(long)megabytes << 20];
        var random = new Random(6);
        var page = 0;
        long id = 0;
        var hex = new byte[16];
        Span<byte> tuple = stackalloc byte[160];
        for (var at = 0; at + 8192 <= data.Length; at += 8192, page++)
        {
            var p = data.AsSpan(at, 8192);
            BinaryPrimitives.WriteInt64LittleEndian(p, 0x1_0000_0000L + (page * 24L)); // LSN
            var lower = 24;
            var upper = 8192;
            while (true)
            {
                id++;
                var t = tuple;
                t.Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(t, 740u + (uint)(id / 1000)); // xmin
                BinaryPrimitives.WriteUInt16LittleEndian(t[18..], 6); // natts
                t[22] = 24; // hoff
                var n = 24;
                BinaryPrimitives.WriteInt64LittleEndian(t[n..], id);
                BinaryPrimitives.WriteInt64LittleEndian(t[(n + 8)..], 820_454_400_000_000L + (id * 1_000_000));
                n += 16;
                foreach (var text in new[]
                {
                    Kinds[id % Kinds.Length],
                    Cities[random.Next(Cities.Length)],
                    $"{Words[random.Next(Words.Length)]} {Words[random.Next(Words.Length)]} {Words[id % Words.Length]}",
                })
                {
                    n += Varlena(t[n..], Encoding.ASCII.GetBytes(text));
                }

                random.NextBytes(hex);
                n += Varlena(t[n..], Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hex)));
                n = (n + 7) & ~7;
                if (upper - n < lower + 4)
                {
                    break;
                }

                upper -= n;
                t[..n].CopyTo(p[upper..]);
                BinaryPrimitives.WriteUInt32LittleEndian(p[lower..], (uint)upper | (1u << 15) | ((uint)n << 17));
                lower += 4;
            }

            BinaryPrimitives.WriteUInt16LittleEndian(p[12..], (ushort)lower);
            BinaryPrimitives.WriteUInt16LittleEndian(p[14..], (ushort)upper);
            BinaryPrimitives.WriteUInt16LittleEndian(p[16..], 8192);
            BinaryPrimitives.WriteUInt16LittleEndian(p[18..], 8196);
        }

        return data;
    }

    private static int Varlena(Span<byte> to, byte[] text)
    {
        to[0] = (byte)(((text.Length + 1) << 1) | 1); // short varlena header
        text.CopyTo(to[1..]);
        return text.Length + 1;
    }

    private static async Task StagesAsync(byte[] data, int rounds, bool allCodecs, Action<string> line, CancellationToken cancellationToken)
    {
        const int chunk = 1 << 20;
        var output = new byte[(4 << 20) + 4096];
        var mib = data.Length / 1048576.0;
        // CPU seconds beside wall seconds: the machine is shared, and CPU time is what the sealer takes from the engine.
        var cpu = 0.0;
        void Report(string stage, double seconds, long outBytes = -1) =>
            line(string.Create(CultureInfo.InvariantCulture, $"  {stage,-44} {seconds,6:0.000} s wall {mib / seconds,6:0} MB/s  {cpu,6:0.000} s CPU {mib / cpu,6:0} MB/CPU-s{(outBytes >= 0 ? $"  ratio {outBytes / (double)data.Length:0.000}" : string.Empty)}"));

        double Best(Func<long> run, out long size)
        {
            var best = double.MaxValue;
            cpu = double.MaxValue;
            size = 0;
            for (var r = 0; r < rounds; r++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                size = run();
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
                cpu = Math.Min(cpu, (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds);
            }

            return best;
        }

        Report("copy (memcpy per chunk)", Best(() => EachChunk(data, chunk, c => { c.CopyTo(output); return c.Length; }), out _));
        Report("SHA-256 (IncrementalHash)", Best(
            () =>
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                EachChunk(data, chunk, c => { hash.AppendData(c); return 0; });
                hash.GetHashAndReset();
                return 0;
            },
            out _));
        var key = RandomNumberGenerator.GetBytes(32);
        using var aes = new AesGcm(key, 16);
        var nonce = new byte[12];
        var tag = new byte[16];
        Report("AES-256-GCM encrypt", Best(() => EachChunk(data, chunk, c => { aes.Encrypt(nonce, c, output.AsSpan(0, c.Length), tag); return c.Length; }), out _));

        // Random data: Deflate only as format 1 would have without its sample check (it gave up after 64 KiB).
        foreach (var (name, level, strategy, size) in allCodecs
            ? new[]
            {
                ("Deflate Fastest (level 1)", 1, ZLibCompressionStrategy.Default, chunk),
                ("Deflate Fastest, 4 MiB chunks", 1, ZLibCompressionStrategy.Default, 4 << 20),
                ("Deflate level 2", 2, ZLibCompressionStrategy.Default, chunk),
                ("Deflate level 1 HuffmanOnly", 1, ZLibCompressionStrategy.HuffmanOnly, chunk),
                ("Deflate level 1 RunLengthEncoding", 1, ZLibCompressionStrategy.RunLengthEncoding, chunk),
            }
            : [("Deflate Fastest (level 1)", 1, ZLibCompressionStrategy.Default, chunk)])
        {
            var compressed = new MemoryStream(size + 4096);
            var options = new ZLibCompressionOptions { CompressionLevel = level, CompressionStrategy = strategy };
            Report(name, Best(() => EachChunk(data, size, c => Deflate(c, compressed, options)), out var stored), stored);
        }

        var lz = new List<byte[]>();
        Report("LzChunkCodec (LZ4 block, K4os fast level)", Best(
            () => EachChunk(data, chunk, c =>
            {
                var written = LzChunkCodec.Compress(c, output.AsSpan(0, c.Length - 1));
                return written < 0 ? c.Length : written;
            }),
            out var lzStored),
            lzStored);
        EachChunk(data, chunk, c =>
        {
            var written = LzChunkCodec.Compress(c, output.AsSpan(0, c.Length - 1));
            lz.Add(written < 0 ? c.ToArray() : output[..written]);
            return 0;
        });

        foreach (var quality in new[] { 0, 1 })
        {
            Report($"Brotli quality {quality}, window 22", Best(
                () => EachChunk(data, chunk, c => BrotliEncoder.TryCompress(c, output, out var written, quality, 22) ? written : throw new InvalidOperationException("brotli")),
                out var stored),
                stored);
        }

        // Decompression: each chunk deflated once, then inflated again and again.
        var deflated = new List<byte[]>();
        var deflateStream = new MemoryStream();
        EachChunk(data, chunk, c => { Deflate(c, deflateStream, new ZLibCompressionOptions { CompressionLevel = 1 }); deflated.Add(deflateStream.ToArray()); return 0; });
        Report("Inflate (of Deflate Fastest)", Best(
            () =>
            {
                long total = 0;
                foreach (var d in deflated)
                {
                    using var inflate = new DeflateStream(new MemoryStream(d), CompressionMode.Decompress);
                    total += inflate.ReadAtLeast(output, chunk, throwOnEndOfStream: false);
                }

                return total;
            },
            out _));
        Report("LzChunkCodec decompress", Best(
            () =>
            {
                long total = 0;
                foreach (var b in lz)
                {
                    total += b.Length == chunk ? chunk : LzChunkCodec.Decompress(b, output.AsSpan(0, chunk));
                }

                return total;
            },
            out _));
        var brotli = new List<byte[]>();
        EachChunk(data, chunk, c => { BrotliEncoder.TryCompress(c, output, out var written, 1, 22); brotli.Add(output[..written]); return 0; });
        Report("Brotli decode (of quality 1)", Best(
            () =>
            {
                long total = 0;
                foreach (var b in brotli)
                {
                    BrotliDecoder.TryDecompress(b, output, out var written);
                    total += written;
                }

                return total;
            },
            out _));
        var ciphertext = new byte[data.Length];
        var tags = new byte[((data.Length + chunk - 1) / chunk) * 16];
        for (int at = 0, i = 0; at < data.Length; at += chunk, i++)
        {
            var length = Math.Min(chunk, data.Length - at);
            aes.Encrypt(nonce, data.AsSpan(at, length), ciphertext.AsSpan(at, length), tags.AsSpan(i * 16, 16));
        }

        Report("AES-256-GCM decrypt", Best(
            () =>
            {
                for (int at = 0, i = 0; at < data.Length; at += chunk, i++)
                {
                    var length = Math.Min(chunk, data.Length - at);
                    aes.Decrypt(nonce, ciphertext.AsSpan(at, length), tags.AsSpan(i * 16, 16), output.AsSpan(0, length));
                }

                return 0;
            },
            out _));

        // The whole thing as Hoard runs it, memory to memory, on every core: format 1 (as it was) and format 2 (now).
        var backupKey = BackupKey.Generate();
        var sealedBytes = new MemoryStream(data.Length + (16 << 20));
        foreach (var (name, seal, open) in new (string, SealWith, OpenWith)[]
        {
            ("format 1 (Deflate)", FormatOneSealer.SealAsync, BackupEnvelope.OpenAsync),
            ("format 2 (LzChunkCodec)", BackupEnvelope.SealAsync, BackupEnvelope.OpenAsync),
        })
        {
            SealedBackup? sealedBackup = null;
            var sealSeconds = await BestAsync(
                async () =>
                {
                    sealedBytes.SetLength(0);
                    sealedBackup = await seal(new MemoryStream(data, writable: false), sealedBytes, backupKey, cancellationToken);
                });
            Report($"seal, {name}, {Environment.ProcessorCount} cores", sealSeconds, sealedBackup!.StoredBytes);
            var openSeconds = await BestAsync(
                async () =>
                {
                    sealedBytes.Position = 0;
                    await open(sealedBytes, Stream.Null, backupKey, sealedBackup.Sha256, cancellationToken);
                });
            Report($"open, {name}, {Environment.ProcessorCount} cores", openSeconds);
        }

        async Task<double> BestAsync(Func<Task> run)
        {
            var best = double.MaxValue;
            cpu = double.MaxValue;
            for (var r = 0; r < rounds; r++)
            {
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                await run();
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
                cpu = Math.Min(cpu, (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds);
            }

            return best;
        }
    }

    private static long EachChunk(byte[] data, int chunk, SpanWork work)
    {
        long total = 0;
        for (var at = 0; at < data.Length; at += chunk)
        {
            total += work(data.AsSpan(at, Math.Min(chunk, data.Length - at)));
        }

        return total;
    }

    private static long Deflate(ReadOnlySpan<byte> chunk, MemoryStream to, ZLibCompressionOptions options)
    {
        to.SetLength(0);
        using (var deflate = new DeflateStream(to, options, leaveOpen: true))
        {
            deflate.Write(chunk);
        }

        return to.Length;
    }

    private delegate long SpanWork(ReadOnlySpan<byte> chunk);

    private delegate Task<SealedBackup> SealWith(Stream plaintext, Stream destination, BackupKey key, CancellationToken cancellationToken);

    private delegate Task<long> OpenWith(Stream stored, Stream plaintext, BackupKey key, string? expectedSha256, CancellationToken cancellationToken);
}
