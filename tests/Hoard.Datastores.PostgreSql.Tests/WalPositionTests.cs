namespace Hoard.Datastores.PostgreSql.Tests;

/// <summary>Resume points of PostgreSQL backups: what pg_basebackup says, and the WAL file names an increment copies.</summary>
public sealed class WalPositionTests
{
    [Fact]
    public void A_base_backup_ends_where_pg_basebackup_verbose_says_on_the_timeline_it_started()
    {
        const string log = """
            pg_basebackup: initiating base backup, waiting for checkpoint to complete
            pg_basebackup: checkpoint completed
            pg_basebackup: write-ahead log start point: 0/2000028 on timeline 3
            pg_basebackup: write-ahead log end point: 1/A2000100
            pg_basebackup: base backup completed
            """;
        var end = WalPosition.FromBaseBackupLog(log);
        Assert.Equal(new WalPosition(3, 0x1_A200_0100UL), end);
        Assert.Equal("3:1/A2000100", end.ToString());
        Assert.Equal(end, WalPosition.Parse("3:1/A2000100"));
        Assert.Null(WalPosition.FromBaseBackupLog("pg_basebackup: base backup completed\n"));
    }

    [Theory]
    [InlineData("1:0/2000100", 1, "000000010000000000000002")]
    [InlineData("2:1/A2000100", 2, "0000000200000001000000A2")]
    public void Segment_names_are_postgres_own(string position, int timeline, string name)
    {
        var parsed = WalPosition.Parse(position);
        Assert.Equal(timeline, parsed.Timeline);
        Assert.Equal(name, WalPosition.SegmentName(parsed.Timeline, parsed.Lsn / (16 * 1024 * 1024), 16 * 1024 * 1024));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0/2000100")]
    [InlineData("0:0/1")]
    [InlineData("1:zz/1")]
    [InlineData("1:0-1")]
    public void Anything_else_is_no_resume_point(string text) => Assert.Throws<FormatException>(() => WalPosition.Parse(text));
}
