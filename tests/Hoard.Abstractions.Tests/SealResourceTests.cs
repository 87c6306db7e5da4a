using System.Diagnostics;
using Hoard.Abstractions.Backups;
using Xunit;
using Xunit.Abstractions;

namespace Hoard.Abstractions.Tests;

/// <summary>Alone, because allocation is counted process-wide.</summary>
[CollectionDefinition(nameof(SealResourceTests), DisableParallelization = true)]
public sealed class SealResourceCollection;

[Collection(nameof(SealResourceTests))]
public sealed class SealResourceTests(ITestOutputHelper output)
{
    private const long Size = 200L << 20;

    /// <summary>A few chunks and copy buffers; the 200 MiB input must not be in it.</summary>
    private const long AllocationBound = 64L << 20;

    private readonly BackupKey _key = BackupKey.Generate();

    [Fact]
    public async Task Sealing_and_opening_200_MiB_allocates_a_bounded_amount()
    {
        // Warm up the JIT and the array pool so they do not count.
        await SealAsync(new RepeatingStream(RepeatingStream.CompressibleBlock(), 8 << 20), new HashingSink());

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var stored = new MemoryStream();
        var sealedBackup = await SealAsync(new RepeatingStream(RepeatingStream.CompressibleBlock(), Size), stored);
        var sealing = GC.GetTotalAllocatedBytes(precise: true) - before - stored.Capacity;

        stored.Position = 0;
        using var sink = new HashingSink();
        before = GC.GetTotalAllocatedBytes(precise: true);
        var count = await BackupEnvelope.OpenAsync(stored, sink, _key, sealedBackup.Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout);
        var opening = GC.GetTotalAllocatedBytes(precise: true) - before;

        output.WriteLine($"sealing 200 MiB allocated {sealing >> 10} KiB; opening {opening >> 10} KiB; stored {sealedBackup.StoredBytes} bytes");
        Assert.Equal(Size, count);
        Assert.InRange(sealing, 0, AllocationBound);
        Assert.InRange(opening, 0, AllocationBound);
    }

    [Fact]
    public async Task Print_sealing_throughput()
    {
        // Not asserted (speed belongs in bench/); a rough figure for the 1.3x target.
        await SealAsync(new RepeatingStream(RepeatingStream.CompressibleBlock(), 8 << 20), new HashingSink());
        foreach (var (name, block) in new[] { ("compressible", RepeatingStream.CompressibleBlock()), ("incompressible", RepeatingStream.IncompressibleBlock()) })
        {
            using var directory = new TempDirectory();
            var file = Path.Combine(directory.Path, "backup.hbk");
            var clock = Stopwatch.StartNew();
            SealedBackup sealedBackup;
            await using (var destination = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, FileOptions.Asynchronous))
            {
                sealedBackup = await SealAsync(new RepeatingStream(block, Size), destination);
            }

            var seal = clock.Elapsed;
            clock.Restart();
            await using (var stored = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.Asynchronous))
            {
                await BackupEnvelope.OpenAsync(stored, Stream.Null, _key, sealedBackup.Sha256, Deadline.Token()).WaitAsync(Deadline.Timeout);
            }

            var open = clock.Elapsed;
            output.WriteLine(
                $"{name}: sealed 200 MiB to {sealedBackup.StoredBytes >> 10} KiB on disk at {200 / seal.TotalSeconds:F0} MB/s; opened at {200 / open.TotalSeconds:F0} MB/s");
        }
    }

    private async Task<SealedBackup> SealAsync(Stream plaintext, Stream destination) =>
        await BackupEnvelope.SealAsync(plaintext, destination, _key, Deadline.Token()).WaitAsync(Deadline.Timeout);
}
