using System.Formats.Tar;
using System.Globalization;
using System.Text;
using Hoard.Abstractions.Datastores;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// Incremental backups from WAL. PostgreSQL 15 has no incremental base backup, but the agent owns the data directory,
/// and WAL is every change in order: an increment is the WAL segments from its parent's end to a WAL switch made for
/// it, as a tar of <c>pg_wal/…</c> files beside a small manifest. A restore unpacks the full backup, lays each
/// increment's segments over its <c>pg_wal</c> in order, and the recovery the full restore already runs replays
/// them to the end of the last one: the data as it was at that last switch.
/// </summary>
/// <remarks>
/// The WAL between backups is kept by a physical replication slot (<see cref="WalSlot"/>) that the manager creates
/// before a full backup and moves to the end of each backup it takes, rather than by wal_keep_size: a slot keeps
/// exactly what the next increment needs however long the gap between backups, and nothing older;
/// max_slot_wal_keep_size bounds it. An increment whose WAL the slot no longer guarantees (the slot was given up,
/// or moved past the parent by a later backup) fails before it copies anything, asking for a full backup.
/// </remarks>
public sealed partial class PostgreSqlManager
{
    /// <summary>The slot that keeps WAL for the next incremental backup.</summary>
    internal const string WalSlot = "hoard_incremental_backups";

    /// <summary>The manifest at the top of an increment's tar, removed once a restore has read it.</summary>
    internal const string IncrementManifest = "hoard_increment";

    /// <summary>
    /// Creates the WAL-keeping slot when the instance has none, reserving WAL from now on. An instance prepared before
    /// its settings bounded the slot (max_slot_wal_keep_size) gets them first, reloaded.
    /// </summary>
    private async Task KeepWalAsync(GuestInstance instance, InstanceFiles files, string password, CancellationToken cancellationToken)
    {
        await using var session = await OpenAdminSessionAsync(instance, password, _options.CommandTimeout, cancellationToken);
        if (await WriteConfigAsync(instance, files, cancellationToken))
        {
            await session.ExecuteAsync("SELECT pg_reload_conf()", cancellationToken);
        }

        var wal = await session.QueryAsync("SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1", r => r.IsDBNull(0) ? string.Empty : r.GetString(0), cancellationToken, WalSlot);
        if (wal is ["lost"])
        {
            // Given up for exceeding max_slot_wal_keep_size: a new one starts keeping WAL again from this backup.
            await session.QueryAsync("SELECT pg_drop_replication_slot($1)", r => 0, cancellationToken, WalSlot);
            wal = [];
        }

        if (wal.Count == 0)
        {
            await session.QueryAsync("SELECT pg_create_physical_replication_slot($1, true)", r => 0, cancellationToken, WalSlot);
        }
    }

    /// <summary>Lets the server recycle WAL before <paramref name="end"/>: a child of the backup that ended there needs none of it.</summary>
    private async Task ReleaseWalBeforeAsync(GuestInstance instance, string password, WalPosition end, CancellationToken cancellationToken)
    {
        await using var session = await OpenAdminSessionAsync(instance, password, _options.CommandTimeout, cancellationToken);

        // A slot never moves back (advancing to before its position is an error), hence GREATEST.
        await session.QueryAsync(
            "SELECT pg_replication_slot_advance(slot_name, GREATEST($2::pg_lsn, restart_lsn)) FROM pg_replication_slots WHERE slot_name = $1 AND restart_lsn IS NOT NULL",
            r => 0,
            cancellationToken,
            WalSlot,
            end.LsnText);
    }

    /// <summary>Streams the WAL from <paramref name="since"/> (a parent backup's end) to a fresh WAL switch, as a tar.</summary>
    private async Task<BackupOutput> IncrementAsync(GuestInstance instance, InstanceFiles files, string password, WalPosition since, Stream destination, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        WalPosition end;
        long segmentSize;
        await using (var session = await OpenAdminSessionAsync(instance, password, _options.CommandTimeout, cancellationToken))
        {
            var slot = await session.QueryAsync(
                "SELECT restart_lsn::text, wal_status FROM pg_replication_slots WHERE slot_name = $1",
                r => (Lsn: r.IsDBNull(0) ? null : r.GetString(0), Status: r.IsDBNull(1) ? null : r.GetString(1)),
                cancellationToken,
                WalSlot);
            if (slot is not [{ Lsn: { } kept } only] || only.Status == "lost" || WalPosition.ParseLsn(kept) > since.Lsn)
            {
                var why = slot.Count == 0
                    ? "it keeps no WAL for incremental backups (its last full backup was taken before Hoard kept any)"
                    : slot[0].Status == "lost"
                        ? $"the WAL it kept outgrew max_slot_wal_keep_size ({ServerConfig.MaxSlotWalKeepMb} MB) and was given up"
                        : $"it keeps WAL only from {slot[0].Lsn}, where a later backup ended";
                throw new InvalidOperationException(
                    $"postgresql instance {instance.Id} no longer has the WAL from {since.LsnText}, where the parent backup ended: {why}. Take a full backup, or an incremental one on the latest backup.");
            }

            var timeline = (await session.QueryAsync("SELECT timeline_id FROM pg_control_checkpoint()", r => r.GetInt32(0), cancellationToken)).Single();
            if (timeline != since.Timeline)
            {
                throw new InvalidOperationException(
                    $"postgresql instance {instance.Id} is on WAL timeline {timeline}, the parent backup on {since.Timeline}; take a full backup");
            }

            segmentSize = (await session.QueryAsync("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'", r => r.GetInt64(0), cancellationToken)).Single();

            // Ends the current segment, so every segment up to this point is complete and never written again.
            var switched = WalPosition.ParseLsn((await session.QueryAsync("SELECT pg_switch_wal()::text", r => r.GetString(0), cancellationToken)).Single());
            end = new WalPosition(since.Timeline, Math.Max(switched, since.Lsn));
        }

        var segments = new List<string>();
        if (end.Lsn > since.Lsn)
        {
            for (var segment = since.Lsn / (ulong)segmentSize; segment <= (end.Lsn - 1) / (ulong)segmentSize; segment++)
            {
                segments.Add(WalPosition.SegmentName(since.Timeline, segment, segmentSize));
            }
        }

        var counting = new CountingStream(destination);
        await using (var tar = new TarWriter(counting, TarEntryFormat.Pax, leaveOpen: true))
        {
            var manifest = string.Create(CultureInfo.InvariantCulture, $"start = {since}\nend = {end}\nsegments = {segments.Count}\n");
            await tar.WriteEntryAsync(
                new PaxTarEntry(TarEntryType.RegularFile, IncrementManifest) { Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite, DataStream = new MemoryStream(Encoding.ASCII.GetBytes(manifest)) },
                cancellationToken);
            foreach (var name in segments)
            {
                var path = Path.Combine(files.DataDirectory, "pg_wal", name);
                if (!File.Exists(path))
                {
                    throw new InvalidOperationException(
                        $"postgresql instance {instance.Id} no longer has WAL segment {name}, which the incremental backup needs; take a full backup");
                }

                await tar.WriteEntryAsync(path, "pg_wal/" + name, cancellationToken);
            }
        }

        await destination.FlushAsync(cancellationToken);
        await ReleaseWalBeforeAsync(instance, password, end, cancellationToken);
        _logger.BackedUp(instance.Id, counting.Written, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return new BackupOutput(counting.Written, end.ToString());
    }

    /// <summary>
    /// Lays each increment of <paramref name="chain"/> (after the full backup, its first) over the unpacked data in
    /// <paramref name="restoring"/>, checking that each starts where the one before it ended. Returns where the last
    /// ends, or null when there are no increments.
    /// </summary>
    private async Task<WalPosition?> AddIncrementsAsync(GuestInstance instance, IReadOnlyList<Stream> chain, string restoring, CancellationToken cancellationToken)
    {
        WalPosition? end = null;
        for (var i = 1; i < chain.Count; i++)
        {
            await ExtractAsync(instance, chain[i], restoring, cancellationToken);
            var manifestPath = Path.Combine(restoring, IncrementManifest);
            if (!File.Exists(manifestPath))
            {
                throw new InvalidOperationException($"backup {i + 1} of the chain for postgresql instance {instance.Id} is not a PostgreSQL incremental backup (no {IncrementManifest} at its top)");
            }

            var manifest = (await File.ReadAllLinesAsync(manifestPath, cancellationToken))
                .Select(l => l.Split('=', 2, StringSplitOptions.TrimEntries))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            File.Delete(manifestPath);
            var start = WalPosition.Parse(manifest.GetValueOrDefault("start") ?? string.Empty);
            if (end is { } previous && start != previous)
            {
                throw new InvalidOperationException(
                    $"backup {i + 1} of the chain for postgresql instance {instance.Id} starts at WAL {start}, but the one before it ends at {previous}: they are not one chain");
            }

            end = WalPosition.Parse(manifest.GetValueOrDefault("end") ?? string.Empty);
        }

        return end;
    }

    /// <summary>Throws unless the restored server's WAL is past <paramref name="end"/>: recovery replayed every increment.</summary>
    private async Task CheckReplayedToAsync(GuestInstance instance, string password, WalPosition end, CancellationToken cancellationToken)
    {
        await using var session = await OpenAdminSessionAsync(instance, password, _options.CommandTimeout, cancellationToken);
        var now = WalPosition.ParseLsn((await session.QueryAsync("SELECT pg_current_wal_lsn()::text", r => r.GetString(0), cancellationToken)).Single());
        if (now < end.Lsn)
        {
            throw new InvalidOperationException(
                $"postgresql instance {instance.Id} replayed the restored WAL only to {WalPosition.FormatLsn(now)}, short of the last increment's end {end.LsnText}");
        }
    }

    /// <summary>Counts what goes through to the stream it wraps (a pipe cannot say its length).</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Written += count;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

/// <summary>A WAL position on a timeline, written "timeline:hi/lo" (e.g. "1:0/2000100"): a PostgreSQL backup's resume point.</summary>
internal readonly record struct WalPosition(int Timeline, ulong Lsn)
{
    public string LsnText => FormatLsn(Lsn);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Timeline}:{LsnText}");

    public static WalPosition Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var timeline) || timeline < 1)
        {
            throw new FormatException($"'{text}' is not a PostgreSQL backup's resume point (timeline:LSN)");
        }

        return new WalPosition(timeline, ParseLsn(text[(colon + 1)..]));
    }

    /// <summary>PostgreSQL's pg_lsn text, "hi/lo" in hex.</summary>
    public static ulong ParseLsn(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0
            || !uint.TryParse(text.AsSpan(0, slash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hi)
            || !uint.TryParse(text.AsSpan(slash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var lo))
        {
            throw new FormatException($"'{text}' is not a WAL position (hi/lo in hex)");
        }

        return ((ulong)hi << 32) | lo;
    }

    public static string FormatLsn(ulong lsn) => string.Create(CultureInfo.InvariantCulture, $"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}");

    /// <summary>The file name of WAL segment <paramref name="segment"/> on <paramref name="timeline"/> (XLogFileName).</summary>
    public static string SegmentName(int timeline, ulong segment, long segmentSize)
    {
        var perId = 0x1_0000_0000UL / (ulong)segmentSize;
        return string.Create(CultureInfo.InvariantCulture, $"{timeline:X8}{segment / perId:X8}{segment % perId:X8}");
    }

    /// <summary>Where pg_basebackup --verbose says the backup's WAL starts (its timeline) and ends; null when it does not say.</summary>
    public static WalPosition? FromBaseBackupLog(string log)
    {
        int? timeline = null;
        ulong? end = null;
        foreach (var line in log.Split('\n', StringSplitOptions.TrimEntries))
        {
            const string start = "write-ahead log start point: ";
            const string stop = "write-ahead log end point: ";
            if (line.IndexOf(start, StringComparison.Ordinal) is var s and >= 0)
            {
                var words = line[(s + start.Length)..].Split(' ');
                if (words is [_, "on", "timeline", var tli] && int.TryParse(tli, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
                {
                    timeline = parsed;
                }
            }
            else if (line.IndexOf(stop, StringComparison.Ordinal) is var e and >= 0)
            {
                end = ParseLsn(line[(e + stop.Length)..].Trim());
            }
        }

        return timeline is { } t && end is { } l ? new WalPosition(t, l) : null;
    }
}
