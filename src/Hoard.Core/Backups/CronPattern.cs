using System.Globalization;

namespace Hoard.Core.Backups;

/// <summary>
/// A five-field cron pattern (minute hour day-of-month month day-of-week), in UTC: numbers, <c>*</c>, ranges
/// <c>a-b</c>, lists <c>a,b</c> and steps <c>*/n</c> or <c>a-b/n</c>; day-of-week 0-7, where 0 and 7 are Sunday. As in
/// Vixie cron, when both day fields are restricted a day matching either one matches.
/// </summary>
public sealed class CronPattern
{
    /// <summary>How far ahead a next run is looked for: a pattern that matches no minute in this long never runs (31 February).</summary>
    private static readonly TimeSpan Horizon = TimeSpan.FromDays(366 * 5);

    private static readonly (string Name, int Min, int Max)[] Fields =
        [("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7)];

    private readonly bool[][] _allowed;
    private readonly bool _anyDayOfMonth;
    private readonly bool _anyDayOfWeek;

    private CronPattern(string text, bool[][] allowed, bool anyDayOfMonth, bool anyDayOfWeek)
    {
        Text = text;
        _allowed = allowed;
        _anyDayOfMonth = anyDayOfMonth;
        _anyDayOfWeek = anyDayOfWeek;
    }

    public string Text { get; }

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says which field is wrong and why.</summary>
    public static bool TryParse(string text, out CronPattern? pattern, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        pattern = null;
        var parts = text.Split(' ', '\t').Where(p => p.Length > 0).ToArray();
        if (parts.Length != 5)
        {
            error = $"has {parts.Length} fields, not 5 (minute hour day-of-month month day-of-week)";
            return false;
        }

        var allowed = new bool[5][];
        for (var i = 0; i < 5; i++)
        {
            allowed[i] = new bool[Fields[i].Max + 1];
            if (!TryParseField(parts[i], Fields[i], allowed[i], out error))
            {
                return false;
            }
        }

        // Sunday is both 0 and 7.
        allowed[4][0] |= allowed[4][7];
        var candidate = new CronPattern(string.Join(' ', parts), allowed, parts[2] == "*", parts[4] == "*");
        if (candidate.NextAfter(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)) is null)
        {
            error = "matches no date";
            return false;
        }

        pattern = candidate;
        error = null;
        return true;
    }

    /// <summary>The first whole minute strictly after <paramref name="after"/> that the pattern matches (UTC), or null when none comes.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset after)
    {
        var t = new DateTimeOffset(after.UtcDateTime.Year, after.UtcDateTime.Month, after.UtcDateTime.Day, after.UtcDateTime.Hour, after.UtcDateTime.Minute, 0, TimeSpan.Zero)
            .AddMinutes(1);
        var end = t + Horizon;

        // Each step moves to the start of the next month, day, hour or minute that can match: a few thousand steps at most.
        while (t < end)
        {
            if (!_allowed[3][t.Month])
            {
                t = new DateTimeOffset(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
            }
            else if (!DayMatches(t))
            {
                t = new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1);
            }
            else if (!_allowed[1][t.Hour])
            {
                t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
            }
            else if (!_allowed[0][t.Minute])
            {
                t = t.AddMinutes(1);
            }
            else
            {
                return t;
            }
        }

        return null;
    }

    private bool DayMatches(DateTimeOffset t)
    {
        var dayOfMonth = _allowed[2][t.Day];
        var dayOfWeek = _allowed[4][(int)t.DayOfWeek];
        return (_anyDayOfMonth, _anyDayOfWeek) switch
        {
            (true, true) => true,
            (false, true) => dayOfMonth,
            (true, false) => dayOfWeek,
            _ => dayOfMonth || dayOfWeek,
        };
    }

    private static bool TryParseField(string field, (string Name, int Min, int Max) spec, bool[] allowed, out string? error)
    {
        foreach (var item in field.Split(','))
        {
            var slash = item.IndexOf('/', StringComparison.Ordinal);
            var range = slash < 0 ? item : item[..slash];
            var step = 1;
            if (slash >= 0 && (!TryNumber(item[(slash + 1)..], out step) || step < 1))
            {
                error = $"{spec.Name} '{item}' has a step that is not a positive number";
                return false;
            }

            int low, high;
            if (range == "*")
            {
                (low, high) = (spec.Min, spec.Max);
            }
            else if (range.Split('-') is [var a, var b] && TryNumber(a, out low) && TryNumber(b, out high))
            {
                if (low > high)
                {
                    error = $"{spec.Name} range '{range}' runs backwards";
                    return false;
                }
            }
            else if (TryNumber(range, out low))
            {
                // "5/15" means from 5 to the end, every 15.
                high = slash >= 0 ? spec.Max : low;
            }
            else
            {
                error = $"{spec.Name} '{item}' is not a number, range, list or step";
                return false;
            }

            if (low < spec.Min || high > spec.Max)
            {
                error = $"{spec.Name} '{item}' is outside {spec.Min}-{spec.Max}";
                return false;
            }

            for (var v = low; v <= high; v += step)
            {
                allowed[v] = true;
            }
        }

        error = null;
        return true;
    }

    private static bool TryNumber(string s, out int value) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value) && s.Length <= 4;
}
