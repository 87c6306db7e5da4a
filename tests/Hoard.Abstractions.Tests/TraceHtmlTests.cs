using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Hoard.Abstractions.Tracing;
using Xunit;

namespace Hoard.Abstractions.Tests;

/// <summary>
/// `hoard trace show --html`'s page, from a tree built the way the drivers build it (events in OSProfiler's stored
/// JSON, parsed back): every point a row on one time axis, the stats table, errors shown, and nothing from the trace
/// able to become markup or script.
/// </summary>
public sealed partial class TraceHtmlTests
{
    private const string BaseId = "0f5e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    private static readonly DateTime T0 = new(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Every_point_is_a_row_nested_under_its_parent_with_service_host_duration_and_details()
    {
        var html = TraceTreeFormats.ToHtml(Tree(), BaseId);

        Assert.Equal(4, RowCount(html));
        Assert.Contains("<span class=\"name\">wsgi</span><span class=\"detail\">POST /v1.0/p1/instances</span>", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"service\">taskmanager</span><span class=\"host\">node-1</span><span class=\"dur\">60 ms</span>", html, StringComparison.Ordinal);

        // The task is inside the request's subtree (what a click folds), the datastore command inside the task's.
        var request = html.IndexOf("data-point=\"p-wsgi\"", StringComparison.Ordinal);
        var task = html.IndexOf("data-point=\"p-task\"", StringComparison.Ordinal);
        var command = html.IndexOf("data-point=\"p-cmd\"", StringComparison.Ordinal);
        Assert.True(request < task && task < command, "rows out of tree order");
        Assert.Contains("<div class=\"row parent\" tabindex=\"0\" data-point=\"p-wsgi\">", html, StringComparison.Ordinal);
        Assert.Contains("<div class=\"row\" tabindex=\"0\" data-point=\"p-cmd\">", html, StringComparison.Ordinal);
        Assert.Contains("padding-left:2.8em", html, StringComparison.Ordinal); // depth 2

        // The start event's info, flattened, is the row's details.
        Assert.Contains("<dt>request.method</dt><dd>POST</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>command</dt><dd>PING</dd>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Bars_sit_on_one_time_axis_by_start_and_duration()
    {
        var html = TraceTreeFormats.ToHtml(Tree(), BaseId);

        // The trace spans 100 ms: the request 0-100, the task 20-80, the command 30-40, the failed check 85-95.
        Assert.Equal("left:0%;width:100%", Bar(html, "p-wsgi"));
        Assert.Equal("left:20%;width:60%", Bar(html, "p-task"));
        Assert.Equal("left:30%;width:10%", Bar(html, "p-cmd"));
        Assert.Contains("<span class=\"tick\" style=\"left:100%\">100 ms</span>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_point_is_marked_with_its_exception_and_message()
    {
        var html = TraceTreeFormats.ToHtml(Tree(), BaseId);

        Assert.Contains("<div class=\"row failed\" tabindex=\"0\" data-point=\"p-check\">", html, StringComparison.Ordinal);
        Assert.Contains("<span class=\"error\">\u2716 TimeoutException: no reply in 10 s</span>", html, StringComparison.Ordinal);
        Assert.Contains("1 failed", html, StringComparison.Ordinal);
        Assert.DoesNotContain("row failed\" tabindex=\"0\" data-point=\"p-task", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_stats_table_has_each_category_count_and_total_ms()
    {
        var tree = Tree();
        var html = TraceTreeFormats.ToHtml(tree, BaseId);

        // Each category as the --json stats give it (TraceTree.Stats is what ToJson writes).
        foreach (var (name, (count, duration)) in tree.Stats)
        {
            Assert.Contains($"<tr><td>{name}</td><td>{count}</td><td>{duration}</td></tr>", html, StringComparison.Ordinal);
        }

        Assert.Equal(tree.Stats.Count, StatsRow().Count(html));
        Assert.Contains("<tr><td>wsgi</td><td>1</td><td>100</td></tr>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Markup_in_a_name_info_value_or_error_is_text_and_only_the_page_own_script_exists()
    {
        var hostile = new[]
        {
            Point("p-x", BaseId, "<script>document.title='pwned'</script>", 0, 10, new() { ["path"] = "\"><img src=x onerror=alert(1)>" }, error: ("<b>Boom</b>", "</dd><script>alert(2)</script>")),
        };
        var html = TraceTreeFormats.ToHtml(TraceTree.Build(Events(hostile))!, "<i>id</i>");

        Assert.Single(ScriptTag().Matches(html));
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<i>", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;", html, StringComparison.Ordinal);
        Assert.Contains("&lt;/dd&gt;&lt;script&gt;alert(2)&lt;/script&gt;", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_page_fetches_nothing_and_its_policy_lets_only_its_own_script_run()
    {
        var html = TraceTreeFormats.ToHtml(Tree(), BaseId);

        Assert.DoesNotMatch(@"<link|\ssrc=|\shref=|url\(|@import|https?://", html);
        var script = ScriptBody().Match(html).Groups[1].Value;
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(script)));
        Assert.Contains($"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'", html, StringComparison.Ordinal);
    }

    /// <summary>A request, its task, the task's command and a failed check after it; times in ms from T0.</summary>
    private static TraceTree Tree() => TraceTree.Build(Events(
    [
        Point("p-wsgi", BaseId, "wsgi", 0, 100, new() { ["request.method"] = "POST", ["request.path"] = "/v1.0/p1/instances" }, service: "api"),
        Point("p-task", "p-wsgi", "task", 20, 80, new() { ["task.kind"] = "instance.create" }),
        Point("p-cmd", "p-task", "datastore", 30, 40, new() { ["command"] = "PING" }, service: "guestagent"),
        Point("p-check", "p-wsgi", "rpc", 85, 95, new() { ["function.name"] = "get_status" }, error: ("TimeoutException", "no reply in 10 s")),
    ]))!;

    private static TracePoint Point(string id, string parent, string name, int startMs, int stopMs, Dictionary<string, string> info, string service = "taskmanager", (string Type, string Message)? error = null) => new()
    {
        BaseId = BaseId,
        Id = id,
        ParentId = parent,
        Name = name,
        Service = service,
        Host = "node-1",
        Start = T0.AddMilliseconds(startMs),
        Stop = T0.AddMilliseconds(stopMs),
        Info = info,
        ErrorType = error?.Type,
        ErrorMessage = error?.Message,
    };

    /// <summary>The points as a backend stores and reads them back.</summary>
    private static IEnumerable<TraceEvent> Events(IEnumerable<TracePoint> points) =>
        points.SelectMany(p => new[] { TraceEvent.ToJson(p, true, "hoard"), TraceEvent.ToJson(p, false, "hoard") }).Select(j => TraceEvent.Parse(j)!);

    private static int RowCount(string html) => Regex.Count(html, "<div class=\"row[ \"]");

    private static string Bar(string html, string point)
    {
        var row = html[html.IndexOf($"data-point=\"{point}\"", StringComparison.Ordinal)..];
        return BarStyle().Match(row).Groups[1].Value;
    }

    [GeneratedRegex("<span class=\"bar\" style=\"([^\"]*)\"")]
    private static partial Regex BarStyle();

    [GeneratedRegex("<tr><td>")]
    private static partial Regex StatsRow();

    [GeneratedRegex("<script", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();

    [GeneratedRegex("<script>(.*)</script>", RegexOptions.Singleline)]
    private static partial Regex ScriptBody();
}
