using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Hoard.Abstractions.Backups;

/// <summary>
/// A byte-oriented LZ77 codec for one backup chunk: no entropy coding, so it compresses several times faster than
/// Deflate's fastest level and decompresses faster still, at a somewhat lower ratio (database pages: about 0.5 of
/// their size where Deflate gets 0.5 to 0.4). The sealer spends most of its time compressing, and a backup that
/// compresses at Deflate's ~250 MB/s a core cannot keep up with the engine's own tool on two cores.
/// </summary>
/// <remarks>
/// <para>A block is a sequence of runs, each: a token byte (high nibble: literal count, low nibble: match length
/// minus <see cref="MinMatch"/>; 15 in either means more follows as bytes of 255 ended by one below 255), the
/// literals, then the match: offset back into what is already decoded (2 bytes, little-endian, 1 to 65,535) and the
/// rest of its length. The last run has literals only and ends where the block ends; every other run has a match.</para>
/// <para>Blocks are authenticated before they are decoded, so malformed input means a bug rather than damage; the
/// decoder still checks every length and offset and never reads or writes outside its buffers.</para>
/// </remarks>
internal static class LzChunkCodec
{
    public const int MinMatch = 4;

    private const int HashBits = 14;

    /// <summary>Matches are found on 6 bytes, not 4: on text with random parts (hex ids, hashes) 4-byte matches are
    /// frequent, save a byte each, and make decoding slow; 6 finds the matches that pay.</summary>
    private const int HashLength = 6;

    private const ulong HashMask = (1UL << (8 * HashLength)) - 1;
    private const int MaxOffset = ushort.MaxValue;

    /// <summary>No match starts in the last bytes: the finder and the extender read 8 bytes at a time.</summary>
    private const int EndMargin = 12;

    /// <summary>The finder steps further the longer it goes without a match, so incompressible data costs little, but
    /// never more than <see cref="MaxStep"/>, so compressible data after a stretch of incompressible is still found.</summary>
    private const int SkipShift = 6;

    private const int MaxStep = 64;

    /// <summary>The table the compressor keeps between calls (a position + 1 per hash; 0 is empty).</summary>
    public static int[] NewTable() => new int[1 << HashBits];

    /// <summary>
    /// Compresses <paramref name="source"/> into <paramref name="destination"/>; returns the compressed length, or -1
    /// when it would not fit in <paramref name="destination"/> (make that shorter than the source to give up on a
    /// block that does not shrink). <paramref name="table"/> is from <see cref="NewTable"/> and is cleared here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int[] table)
    {
        Array.Clear(table);
        var n = source.Length;
        ref var src = ref MemoryMarshal.GetReference(source);
        ref var slots = ref MemoryMarshal.GetArrayDataReference(table);
        ArgumentOutOfRangeException.ThrowIfNotEqual(table.Length, 1 << HashBits);
        var anchor = 0;
        var at = 0;
        var op = 0;
        var limit = n - EndMargin;
        while (at < limit)
        {
            var sequence = Read64(ref src, at) & HashMask;
            var hash = Hash(sequence);
            ref var slot = ref Unsafe.Add(ref slots, hash); // a hash is HashBits wide: always inside the table
            var candidate = slot - 1;
            slot = at + 1;
            if (candidate < 0 || at - candidate > MaxOffset || (Read64(ref src, candidate) & HashMask) != sequence)
            {
                at += Math.Min(1 + ((at - anchor) >> SkipShift), MaxStep);
                continue;
            }

            // Extend backwards over literals not yet written, then forwards 8 bytes at a time.
            while (at > anchor && candidate > 0 && Unsafe.Add(ref src, at - 1) == Unsafe.Add(ref src, candidate - 1))
            {
                at--;
                candidate--;
            }

            var length = HashLength + MatchLength(ref src, candidate + HashLength, at + HashLength, n);
            op = WriteRun(source, anchor, at, at - candidate, length, destination, op);
            if (op < 0)
            {
                return -1;
            }

            at += length;
            anchor = at;
            if (at - 2 < limit)
            {
                Unsafe.Add(ref slots, Hash(Read64(ref src, at - 2) & HashMask)) = at - 2 + 1;
            }
        }

        return WriteLastRun(source[anchor..], destination, op);
    }

    /// <summary>
    /// Decompresses <paramref name="source"/> into <paramref name="destination"/>, returning the length produced;
    /// <see cref="InvalidDataException"/> when the block is malformed or does not fit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var ip = 0;
        var op = 0;
        while (true)
        {
            if (ip >= source.Length)
            {
                throw new InvalidDataException("The block ends before its last run.");
            }

            var token = source[ip++];
            var literals = ReadLength(source, ref ip, token >> 4);
            if (literals > source.Length - ip || literals > destination.Length - op)
            {
                throw new InvalidDataException("A run's literals run past the end of the block or the output.");
            }

            if (literals <= 16 && source.Length - ip >= 16 && destination.Length - op >= 16)
            {
                // Short literals, the common case: one 16-byte copy (the excess is overwritten next).
                Unsafe.WriteUnaligned(ref destination[op], Unsafe.ReadUnaligned<Vector128<byte>>(ref Unsafe.Add(ref MemoryMarshal.GetReference(source), ip)));
            }
            else
            {
                source.Slice(ip, literals).CopyTo(destination[op..]);
            }

            ip += literals;
            op += literals;
            if (ip == source.Length)
            {
                return (token & 15) == 0 ? op : throw new InvalidDataException("The block ends inside a match.");
            }

            if (source.Length - ip < 2)
            {
                throw new InvalidDataException("The block ends inside a match's offset.");
            }

            var offset = BinaryPrimitives.ReadUInt16LittleEndian(source[ip..]);
            ip += 2;
            var length = ReadLength(source, ref ip, token & 15) + MinMatch;
            if (offset == 0 || offset > op || length > destination.Length - op)
            {
                throw new InvalidDataException($"A match (offset {offset}, length {length}) reaches outside the output.");
            }

            CopyMatch(destination, op, offset, length);
            op += length;
        }
    }

    /// <summary>The worst case, for sizing a buffer that must never be too small: incompressible input plus tokens.</summary>
    public static int MaxCompressedLength(int length) => length + (length / 255) + 16;

    private static int WriteRun(ReadOnlySpan<byte> source, int anchor, int at, int offset, int length, Span<byte> destination, int op)
    {
        var literals = source[anchor..at];
        var matchRest = length - MinMatch;
        if (op + 1 + LengthBytes(literals.Length) + literals.Length + 2 + LengthBytes(matchRest) > destination.Length)
        {
            return -1;
        }

        destination[op++] = (byte)((Math.Min(literals.Length, 15) << 4) | Math.Min(matchRest, 15));
        op = WriteLength(destination, op, literals.Length);
        if (literals.Length <= 16 && source.Length - anchor >= 16 && destination.Length - op >= 16)
        {
            // Short literals, the common case: one 16-byte copy; what it writes past them is overwritten next.
            Unsafe.WriteUnaligned(ref destination[op], Unsafe.ReadUnaligned<Vector128<byte>>(ref Unsafe.AsRef(in source[anchor])));
        }
        else
        {
            literals.CopyTo(destination[op..]);
        }

        op += literals.Length;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[op..], (ushort)offset);
        op += 2;
        return WriteLength(destination, op, matchRest);
    }

    private static int WriteLastRun(ReadOnlySpan<byte> literals, Span<byte> destination, int op)
    {
        if (op + 1 + LengthBytes(literals.Length) + literals.Length > destination.Length)
        {
            return -1;
        }

        destination[op++] = (byte)(Math.Min(literals.Length, 15) << 4);
        op = WriteLength(destination, op, literals.Length);
        literals.CopyTo(destination[op..]);
        return op + literals.Length;
    }

    /// <summary>Bytes a length of <paramref name="length"/> needs after its nibble.</summary>
    private static int LengthBytes(int length) => length < 15 ? 0 : ((length - 15) / 255) + 1;

    private static int WriteLength(Span<byte> destination, int op, int length)
    {
        if (length < 15)
        {
            return op;
        }

        length -= 15;
        while (length >= 255)
        {
            destination[op++] = 255;
            length -= 255;
        }

        destination[op++] = (byte)length;
        return op;
    }

    private static int ReadLength(ReadOnlySpan<byte> source, ref int ip, int nibble)
    {
        if (nibble < 15)
        {
            return nibble;
        }

        var length = 15;
        byte next;
        do
        {
            if (ip >= source.Length)
            {
                throw new InvalidDataException("The block ends inside a length.");
            }

            next = source[ip++];
            length += next;
            if (length > Array.MaxLength)
            {
                throw new InvalidDataException("A length is impossibly large.");
            }
        }
        while (next == 255);
        return length;
    }

    /// <summary>An LZ match copies byte by byte in effect: when it overlaps what it copies, the pattern repeats.</summary>
    private static void CopyMatch(Span<byte> destination, int op, int offset, int length)
    {
        var from = op - offset;
        if (length <= 16 && offset >= 8 && destination.Length - op >= 16)
        {
            // Short matches, the common case: two 8-byte copies, the second reading what the first may have written.
            ref var to = ref destination[op];
            ref var back = ref destination[from];
            Unsafe.WriteUnaligned(ref to, Unsafe.ReadUnaligned<ulong>(ref back));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref to, 8), Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref back, 8)));
            return;
        }

        if (offset >= length)
        {
            destination.Slice(from, length).CopyTo(destination[op..]);
            return;
        }

        // Copy in pieces no longer than the distance back, which doubles as the copied part grows.
        var copied = 0;
        while (copied < length)
        {
            var piece = Math.Min(op + copied - from, length - copied);
            destination.Slice(from, piece).CopyTo(destination[(op + copied)..]);
            copied += piece;
        }
    }

    /// <summary>How many more bytes match after the first <see cref="MinMatch"/>, stopping short of the end margin
    /// where no reads of 8 are safe and finishing byte by byte.</summary>
    private static int MatchLength(ref byte src, int candidate, int at, int n)
    {
        var start = at;
        while (at + 8 <= n)
        {
            var difference = Read64(ref src, at) ^ Read64(ref src, candidate);
            if (difference != 0)
            {
                return at - start + (BitOperations.TrailingZeroCount(difference) >> 3);
            }

            at += 8;
            candidate += 8;
        }

        while (at < n && Unsafe.Add(ref src, at) == Unsafe.Add(ref src, candidate))
        {
            at++;
            candidate++;
        }

        return at - start;
    }

    private static int Hash(ulong sequence) => (int)((sequence * 0x9E3779B185EBCA87UL) >> (64 - HashBits));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Read64(ref byte src, int at) => Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref src, at));
}
