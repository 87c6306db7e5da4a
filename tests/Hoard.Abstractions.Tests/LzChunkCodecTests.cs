using System.Security.Cryptography;
using System.Text;
using Hoard.Abstractions.Backups;
using Xunit;

namespace Hoard.Abstractions.Tests;

public sealed class LzChunkCodecTests
{
    public static TheoryData<string> Shapes => ["zeros", "text", "random", "short-period", "text-with-random-holes", "long-run-then-random"];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_length_and_shape_comes_back_byte_for_byte(string shape)
    {
        var random = new Random(shape.GetHashCode(StringComparison.Ordinal));
        foreach (var length in Lengths(random))
        {
            var source = Make(shape, length, random);
            var compressed = new byte[LzChunkCodec.MaxCompressedLength(length)];
            var written = LzChunkCodec.Compress(source, compressed);
            if (length == 0)
            {
                Assert.Equal(-1, written); // nothing to store compressed: the sealer stores the chunk as it is
                continue;
            }

            Assert.InRange(written, 1, compressed.Length);

            var restored = new byte[length];
            Assert.Equal(length, LzChunkCodec.Decompress(compressed.AsSpan(0, written), restored));
            Assert.True(source.AsSpan().SequenceEqual(restored), $"{shape}, {length} bytes");
        }
    }

    [Fact]
    public void Text_shrinks_and_random_bytes_are_given_up_on_when_they_must_shrink()
    {
        var text = Make("text", 1 << 20, new Random(1));
        var random = RandomNumberGenerator.GetBytes(1 << 20);
        var output = new byte[(1 << 20) - 1];

        Assert.InRange(LzChunkCodec.Compress(text, output), 1, text.Length / 4);
        Assert.Equal(-1, LzChunkCodec.Compress(random, output));
    }

    [Fact]
    public void Matches_that_overlap_what_they_copy_repeat_the_pattern()
    {
        // "abc" then a match 3 back of length 30: the decoder must copy byte by byte in effect, not memmove.
        var source = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("abc", 11)) + "0123456789xyz");
        var compressed = new byte[LzChunkCodec.MaxCompressedLength(source.Length)];
        var written = LzChunkCodec.Compress(source, compressed);
        Assert.True(written < source.Length);

        var restored = new byte[source.Length];
        LzChunkCodec.Decompress(compressed.AsSpan(0, written), restored);

        Assert.Equal(source, restored);
    }

    [Fact]
    public void Malformed_blocks_are_refused_as_invalid_data()
    {
        var source = Make("text", 4096, new Random(4));
        var compressed = new byte[LzChunkCodec.MaxCompressedLength(source.Length)];
        var written = LzChunkCodec.Compress(source, compressed);

        Assert.Throws<InvalidDataException>(() => LzChunkCodec.Decompress([], new byte[64]));
        Assert.Throws<InvalidDataException>(() => LzChunkCodec.Decompress(compressed.AsSpan(0, written / 2), new byte[4096]));
        Assert.Throws<InvalidDataException>(() => LzChunkCodec.Decompress([0xF0], new byte[64])); // a length that never ends
    }

    [Fact]
    public void A_block_that_decodes_to_more_than_its_buffer_is_refused()
    {
        var source = Make("text", 4096, new Random(2));
        var compressed = new byte[LzChunkCodec.MaxCompressedLength(source.Length)];
        var written = LzChunkCodec.Compress(source, compressed);

        Assert.Throws<InvalidDataException>(() => LzChunkCodec.Decompress(compressed.AsSpan(0, written), new byte[4095]));
    }

    [Fact]
    public void Random_and_mangled_blocks_never_fail_other_than_as_invalid_data()
    {
        // The decoder sees only authenticated blocks, but a bug upstream must still not read or write out of bounds.
        var random = new Random(3);
        var good = new byte[LzChunkCodec.MaxCompressedLength(8192)];
        var goodLength = LzChunkCodec.Compress(Make("text-with-random-holes", 8192, random), good);
        var output = new byte[8192];
        for (var i = 0; i < 20_000; i++)
        {
            byte[] block;
            if (i % 2 == 0)
            {
                block = new byte[random.Next(0, 200)];
                random.NextBytes(block);
            }
            else
            {
                block = good[..goodLength];
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    block[random.Next(block.Length)] ^= (byte)random.Next(1, 256);
                }

                block = block[..random.Next(block.Length / 2, block.Length + 1)];
            }

            try
            {
                Assert.InRange(LzChunkCodec.Decompress(block, output), 0, output.Length);
            }
            catch (InvalidDataException)
            {
            }
        }
    }

    private static IEnumerable<int> Lengths(Random random)
    {
        for (var length = 0; length <= 40; length++)
        {
            yield return length;
        }

        foreach (var length in new[] { 255, 256, 270, 4095, 4096, 65535, 65536, 65537, 200_000, 1 << 20 })
        {
            yield return length;
        }

        for (var i = 0; i < 20; i++)
        {
            yield return random.Next(41, 100_000);
        }
    }

    private static byte[] Make(string shape, int length, Random random)
    {
        var data = new byte[length];
        switch (shape)
        {
            case "zeros":
                break;
            case "random":
                random.NextBytes(data);
                break;
            case "short-period":
                for (var i = 0; i < length; i++)
                {
                    data[i] = (byte)(i % (1 + (i / 997 % 7)));
                }

                break;
            case "long-run-then-random":
                random.NextBytes(data.AsSpan(length / 2));
                break;
            default:
                var text = new StringBuilder();
                for (var i = 0; text.Length < length; i++)
                {
                    text.Append(Row(i));
                    if (shape == "text-with-random-holes")
                    {
                        text.Append(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(random.Next(1, 20))));
                    }
                }

                Encoding.ASCII.GetBytes(text.ToString(0, length), data);
                break;
        }

        return data;
    }

    private static string Row(int i) => $"INSERT INTO events VALUES ({i}, 'login', 'Lyon', 'fast blue gift');\n";
}
