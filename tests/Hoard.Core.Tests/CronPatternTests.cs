using Hoard.Core.Backups;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class CronPatternTests
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 6, 12, 0, 30, TimeSpan.Zero); // a Sunday

    private static DateTimeOffset? Next(string pattern, DateTimeOffset after)
    {
        Assert.True(CronPattern.TryParse(pattern, out var parsed, out var error), error);
        return parsed!.NextAfter(after);
    }

    private static DateTimeOffset At(int month, int day, int hour, int minute, int year = 2026) => new(year, month, day, hour, minute, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("* * * * *", 12, 6, 12, 1)]
    [InlineData("0 3 * * *", 12, 7, 3, 0)]
    [InlineData("*/15 * * * *", 12, 6, 12, 15)]
    [InlineData("5/20 * * * *", 12, 6, 12, 5)]
    [InlineData("30 8-10 * * *", 12, 7, 8, 30)]
    [InlineData("0 12,18 * * *", 12, 6, 18, 0)]
    [InlineData("0 0 1 * *", 1, 1, 0, 0, 2027)]
    [InlineData("0 0 * * 1", 12, 7, 0, 0)]
    [InlineData("0 13 * * 7", 12, 6, 13, 0)]
    [InlineData("0 0 29 2 *", 2, 29, 0, 0, 2028)]
    public void The_next_run_is_the_first_matching_minute_after_now(string pattern, int month, int day, int hour, int minute, int year = 2026)
    {
        Assert.Equal(At(month, day, hour, minute, year), Next(pattern, Noon));
    }

    [Fact]
    public void A_run_at_a_matching_minute_is_followed_by_the_next_one_not_itself()
    {
        Assert.Equal(At(12, 7, 3, 0), Next("0 3 * * *", At(12, 6, 3, 0)));
    }

    [Fact]
    public void With_both_day_fields_restricted_either_one_matches_as_in_cron()
    {
        // The 10th, or any Monday: Monday the 7th comes first.
        Assert.Equal(At(12, 7, 0, 0), Next("0 0 10 * 1", Noon));
        Assert.Equal(At(12, 10, 0, 0), Next("0 0 10 * 1", At(12, 7, 0, 0)));
    }

    [Theory]
    [InlineData("* * * *", "4 fields")]
    [InlineData("60 * * * *", "minute '60' is outside 0-59")]
    [InlineData("* 24 * * *", "hour '24' is outside 0-23")]
    [InlineData("* * 0 * *", "day of month '0' is outside 1-31")]
    [InlineData("* * * 13 *", "month '13' is outside 1-12")]
    [InlineData("* * * * 8", "day of week '8' is outside 0-7")]
    [InlineData("*/0 * * * *", "step that is not a positive number")]
    [InlineData("10-5 * * * *", "runs backwards")]
    [InlineData("a * * * *", "minute 'a' is not a number")]
    [InlineData("0 0 31 2 *", "matches no date")]
    public void A_bad_pattern_is_refused_saying_which_field_and_why(string pattern, string why)
    {
        Assert.False(CronPattern.TryParse(pattern, out var parsed, out var error));
        Assert.Null(parsed);
        Assert.Contains(why, error, StringComparison.Ordinal);
    }
}
