using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Tracing;
using Xunit;

namespace Hoard.Abstractions.Tests;

/// <summary>
/// The stored event format must not move when the writer gets faster: the stock osprofiler CLI and traces already in
/// Redis depend on it. Each event is compared byte for byte with the format as it was first written, through a JSON
/// tree (<see cref="Reference"/>, kept here as the specification).
/// </summary>
public sealed class TraceEventJsonTests
{
    private static readonly DateTime T0 = new DateTime(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc).AddTicks(1234567);

    public static TheoryData<string, Dictionary<string, string>, string?, string?> Points() => new()
    {
        { "datastore", new() { ["datastore"] = "redis", ["command"] = "GET" }, null, null },
        { "wsgi", new() { ["request.method"] = "POST", ["request.path"] = "/v1.0/p/instances", ["request.scheme"] = "http" }, "ValueError", "bad" },
        { "task", new() { ["task.kind"] = "instance.create", ["task.id"] = "42", ["instance"] = "i-1", ["task.steps.done"] = "3" }, "TimeoutException", null },
        { "db", new(), null, null },
        { "x", new() { ["a"] = "value first", ["a.b"] = "then an object in its place", ["c.d"] = "object first", ["c"] = "then a value" }, null, null },
        { "y", new() { ["host"] = "a tag named host", ["z"] = "1", ["..odd..key."] = "empty parts" }, null, null },
        { "<script>alert('x')</script>", new() { ["path"] = "\"quoted\" \\ back\\slash\n\t& <b>é ü 日本 🎉 \u0001", ["k<&>'"] = "v" }, "<Err>", "line1\nline2 \"q\" é" },
        { new string('n', 300), new() { ["long"] = new string('v', 5000) }, null, null },
    };

    [Theory]
    [MemberData(nameof(Points))]
    public void Each_event_is_byte_for_byte_the_stored_format(string name, Dictionary<string, string> info, string? errorType, string? errorMessage)
    {
        var point = Point(name, info, errorType, errorMessage, T0);
        foreach (var start in new[] { true, false })
        {
            Assert.Equal(Reference(point, start, "hoard"), TraceEvent.ToJson(point, start, "hoard"));
        }
    }

    [Fact]
    public void A_zero_fraction_timestamp_keeps_its_six_digits()
    {
        var point = Point("wsgi", [], null, null, new DateTime(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc));
        Assert.Contains("\"timestamp\":\"2026-12-06T12:00:00.000000\"", TraceEvent.ToJson(point, true, "hoard"), StringComparison.Ordinal);
        Assert.Equal(Reference(point, true, "hoard"), TraceEvent.ToJson(point, true, "hoard"));
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(630_822_816_000_000_009L)] // 2000-01-01, 900 ns: below the format's microseconds
    [InlineData(638_447_616_000_000_000L)] // 2024-02-29, a leap day
    [InlineData(639_004_895_999_999_999L)] // the last tick of a day
    [InlineData(3_155_378_975_999_899_999L)] // 9999-12-31T23:59:59.9899999, the stop 7 ms later still in range
    public void Timestamps_across_the_calendar_are_written_as_the_format_says(long ticks)
    {
        var start = new DateTime(ticks, DateTimeKind.Utc);
        var point = Point("wsgi", [], null, null, start) with { Stop = start };
        Assert.Equal(Reference(point, true, "hoard"), TraceEvent.ToJson(point, true, "hoard"));
        Assert.Equal(Reference(point, false, "hoard"), TraceEvent.ToJson(point, false, "hoard"));
    }

    [Fact]
    public void Events_written_one_after_another_into_one_buffer_are_each_whole()
    {
        var points = Points().Select(row => Point((string)row[0], (Dictionary<string, string>)row[1], (string?)row[2], (string?)row[3], T0)).ToList();
        var buffer = new ArrayBufferWriter<byte>(16); // small, so it grows (and moves) while events are written
        var expected = new StringBuilder();
        foreach (var point in points)
        {
            TraceEvent.WriteJson(buffer, point, start: true, "hoard");
            TraceEvent.WriteJson(buffer, point, start: false, "hoard");
            expected.Append(Reference(point, true, "hoard")).Append(Reference(point, false, "hoard"));
        }

        Assert.Equal(expected.ToString(), Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static TracePoint Point(string name, Dictionary<string, string> info, string? errorType, string? errorMessage, DateTime start) => new()
    {
        BaseId = "0f5e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        Id = "0f5e1a2b-3c4d-4e5f-1111-222233334444",
        ParentId = "0f5e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        Name = name,
        Service = "api",
        Host = "node-1",
        Start = start,
        Stop = start.AddTicks(70_001),
        Info = info,
        ErrorType = errorType,
        ErrorMessage = errorMessage,
    };

    /// <summary>The format as first defined: a JsonObject tree, dotted keys nested, host first, serialized with the defaults.</summary>
    private static string Reference(TracePoint point, bool start, string project)
    {
        var info = new JsonObject { ["host"] = point.Host };
        if (start)
        {
            foreach (var (key, value) in point.Info)
            {
                var parts = key.Split('.');
                var node = info;
                for (var i = 0; i < parts.Length - 1; i++)
                {
                    if (node[parts[i]] is not JsonObject child)
                    {
                        child = [];
                        node[parts[i]] = child;
                    }

                    node = child;
                }

                node[parts[^1]] = value;
            }
        }
        else if (point.ErrorType is not null)
        {
            info["etype"] = point.ErrorType;
            info["message"] = point.ErrorMessage ?? string.Empty;
        }

        return new JsonObject
        {
            ["name"] = point.Name + (start ? "-start" : "-stop"),
            ["base_id"] = point.BaseId,
            ["trace_id"] = point.Id,
            ["parent_id"] = point.ParentId,
            ["timestamp"] = TraceEvent.FormatTimestamp(start ? point.Start : point.Stop),
            ["info"] = info,
            ["project"] = project,
            ["service"] = point.Service,
        }.ToJsonString();
    }
}
