using K4os.Compression.LZ4;

namespace Hoard.Abstractions.Backups;

/// <summary>
/// The codec of one backup chunk in format 2: an LZ4 block (K4os.Compression.LZ4, the fast level). No entropy
/// coding, so it compresses several times faster than Deflate's fastest level and decompresses faster still, at a
/// somewhat lower ratio (database pages: about half their size). The sealer spends most of its time compressing, and a
/// backup that compresses at Deflate's ~250 MB/s a core cannot keep up with the engine's own tool on two cores.
/// </summary>
/// <remarks>
/// Blocks are authenticated (AES-GCM) before they are decoded, so malformed input means a bug rather than damage; the
/// decoder still refuses a block that is malformed or does not fit, as <see cref="InvalidDataException"/>.
/// </remarks>
internal static class LzChunkCodec
{
    /// <summary>
    /// Compresses <paramref name="source"/> into <paramref name="destination"/>; returns the compressed length, or -1
    /// when it would not fit in <paramref name="destination"/> (make that shorter than the source to give up on a
    /// block that does not shrink).
    /// </summary>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (source.IsEmpty)
        {
            return -1;
        }

        var written = LZ4Codec.Encode(source, destination, LZ4Level.L00_FAST);
        return written > 0 ? written : -1;
    }

    /// <summary>
    /// Decompresses <paramref name="source"/> into <paramref name="destination"/>, returning the length produced;
    /// <see cref="InvalidDataException"/> when the block is malformed or does not fit.
    /// </summary>
    public static int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var produced = source.IsEmpty ? -1 : LZ4Codec.Decode(source, destination);
        return produced > 0
            ? produced
            : throw new InvalidDataException($"the LZ4 block ({source.Length} bytes) is malformed or decodes to more than {destination.Length} bytes");
    }

    /// <summary>The worst case, for sizing a buffer that must never be too small: incompressible input plus LZ4's overhead.</summary>
    public static int MaxCompressedLength(int length) => LZ4Codec.MaximumOutputSize(length);
}
