using System.Security.Cryptography;
using System.Text;

namespace Hoard.Abstractions.Tests;

/// <summary>A read-only stream of <c>length</c> bytes made by repeating a block: big inputs without holding them.</summary>
internal sealed class RepeatingStream(byte[] block, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    /// <summary>Text-like rows that repeat every 4 KiB: compresses well, as a dump does.</summary>
    public static byte[] CompressibleBlock()
    {
        var text = new StringBuilder();
        for (var i = 0; text.Length < 4096; i++)
        {
            text.Append($"INSERT INTO accounts VALUES ({i}, 'user{i}@example.org', {i * 37 % 1000});\n");
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, 4096));
    }

    /// <summary>1 MiB of random bytes: further apart than any codec's window (Deflate 32 KiB, LzChunkCodec 64 KiB), so it repeats without compressing.</summary>
    public static byte[] IncompressibleBlock() => RandomNumberGenerator.GetBytes(1 << 20);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var total = (int)Math.Min(buffer.Length, length - _position);
        var written = 0;
        while (written < total)
        {
            var at = (int)(_position % block.Length);
            var take = Math.Min(total - written, block.Length - at);
            block.AsSpan(at, take).CopyTo(buffer[written..]);
            written += take;
            _position += take;
        }

        return total;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A write-only sink that keeps only a count and a SHA-256 of what it was given.</summary>
internal sealed class HashingSink : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long Count { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => Count;

    public override long Position { get => Count; set => throw new NotSupportedException(); }

    public string Sha256() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        Count += buffer.Length;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("hoard-backup-tests-").FullName;
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

internal static class Deadline
{
    /// <summary>Every await in these tests ends by then.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public static CancellationToken Token() => new CancellationTokenSource(Timeout).Token;
}
