using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hoard.Testing;
using Microsoft.Playwright;
using Xunit;

namespace Hoard.Cli.Tests;

/// <summary>
/// `hoard trace show ID --html` as an operator uses it: a real trace from a running hoard serve (embedded sqlite
/// backend, store calls traced, requests signed as OSProfiler signs them), written to a file and opened in a real
/// headless Chromium (Debian's, driven by Playwright) from disk, with nothing else to load.
/// </summary>
public sealed class TraceHtmlPageTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Injected = "<script>document.title='pwned'</script>";

    [RequiresBinaryFact(Chromium)]
    public async Task The_page_shows_every_point_folds_a_subtree_on_click_and_runs_no_script_from_the_trace()
    {
        await using var server = await HoardServer.StartAsync(new Dictionary<string, string> { ["HOARD_PROFILER_TRACE_STORE"] = "true" }, ["--profiler-hmac-keys", "k1"]);
        var (token, project) = await server.LoginAsync("admin", server.AdminPassword, "admin");
        var baseId = Guid.NewGuid().ToString();

        // Two requests in one trace: a list whose store calls are its children, and a look-up whose path carries
        // markup, as anyone able to send a request could put into a trace an admin later opens.
        await SignedGetAsync(server, baseId, token, $"/v1.0/{project}/instances");
        await SignedGetAsync(server, baseId, token, $"/v1.0/{project}/instances/{Injected}");
        var connection = "sqlite://" + Path.Combine(server.DataDir, "traces.db");
        var json = await Timeouts.EventuallyAsync(
            () => HoardAsync("trace", "show", baseId, "--json", "--connection-string", connection),
            r => r.ExitCode == 0 && CountOf(r.Stdout, "\"meta.raw_payload.wsgi-stop\"") == 2 && r.Stdout.Contains("\"meta.raw_payload.db-start\"", StringComparison.Ordinal),
            Timeouts.Settle,
            "both requests' points to be written");
        var tree = JsonNode.Parse(json.Stdout)!;
        var points = Descendants(tree).ToList();
        var list = points.Single(n => Name(n) == "wsgi" && Children(n).Any());

        var file = Path.Combine(server.DataDir, "trace.html");
        var shown = await HoardAsync("trace", "show", baseId, "--html", "--output", file, "--connection-string", connection);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Equal(string.Empty, shown.Stdout);

        using var playwright = await Playwright.CreateAsync().Within(Timeouts.Short);
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Timeout = (float)Timeouts.Cli.TotalMilliseconds,

            // This machine's network is closed: without these Chromium keeps trying Google's services.
            Args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        }).Within(Timeouts.Cli);
        var page = await browser.NewPageAsync().Within(Timeouts.Short);
        
        // Shorter than the awaits' own deadline, so a stuck action fails with Playwright's account of why.
        page.SetDefaultTimeout((float)(Timeouts.Short.TotalMilliseconds * 0.8));
        var errors = new List<string>();
        var requests = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type is "error" or "warning")
            {
                errors.Add(m.Text);
            }
        };
        page.PageError += (_, e) => errors.Add(e);
        page.Dialog += (_, d) => errors.Add("dialog: " + d.Message);
        page.Request += (_, r) => requests.Add(r.Url);
        await page.GotoAsync(new Uri(file).AbsoluteUri).Within(Timeouts.Short);

        // Every point is a visible row.
        var rows = page.Locator(".row");
        Assert.Equal(points.Count, await rows.CountAsync().Within(Timeouts.Short));
        foreach (var p in points)
        {
            Assert.True(await Row(page, p).IsVisibleAsync().Within(Timeouts.Short), $"row of {Name(p)} {p["trace_id"]} is not visible");
        }

        // Clicking the list request's row hides its store calls; clicking again shows them.
        var kids = Children(list).ToList();
        await Row(page, list).ClickAsync().Within(Timeouts.Short);
        foreach (var k in kids)
        {
            Assert.False(await Row(page, k).IsVisibleAsync().Within(Timeouts.Short), $"{Name(k)} still shown under a folded row");
        }

        Assert.Contains("\u25B8", await ToggleGlyphAsync(page, list));
        await Row(page, list).ClickAsync().Within(Timeouts.Short);
        foreach (var k in kids)
        {
            Assert.True(await Row(page, k).IsVisibleAsync().Within(Timeouts.Short), $"{Name(k)} not shown again after unfolding");
        }

        // Hovering a store call shows its details: the call it made.
        var call = kids.First(k => Name(k) == "db");
        await Row(page, call).HoverAsync().Within(Timeouts.Short);
        var details = page.Locator($".row[data-point=\"{call["trace_id"]}\"] + .info");
        Assert.True(await details.IsVisibleAsync().Within(Timeouts.Short), "no details on hover");
        Assert.Contains(StartInfo(call)["function"]!["name"]!.GetValue<string>(), await details.InnerTextAsync().Within(Timeouts.Short), StringComparison.Ordinal);

        // The markup in the request path is shown as text and never ran; the page's own script is the only one.
        var injectedRow = Row(page, points.Single(n => Name(n) == "wsgi" && StartInfo(n)["request"]!["path"]!.GetValue<string>().Contains("pwned", StringComparison.Ordinal)));
        Assert.Contains(Injected, await injectedRow.InnerTextAsync().Within(Timeouts.Short), StringComparison.Ordinal);
        Assert.Equal($"Trace {baseId}", await page.TitleAsync().Within(Timeouts.Short));
        Assert.Equal(1, await page.Locator("script").CountAsync().Within(Timeouts.Short));

        // The stats table gives each category's count as --json does.
        foreach (var (category, stat) in tree["stats"]!.AsObject())
        {
            var cells = await page.Locator("table.stats tr", new() { Has = page.Locator($"td:text-is(\"{category}\")") }).Locator("td").AllInnerTextsAsync().Within(Timeouts.Short);
            Assert.Equal(new[] { category, stat!["count"]!.ToString(), stat["duration"]!.ToString() }, cells);
        }

        Assert.Empty(errors);
        Assert.Equal(new[] { new Uri(file).AbsoluteUri }, requests);
    }

    private static ILocator Row(IPage page, JsonNode point) => page.Locator($".row[data-point=\"{point["trace_id"]}\"]");

    /// <summary>The ▸/▾ a row shows, drawn by CSS.</summary>
    private static Task<string> ToggleGlyphAsync(IPage page, JsonNode point) =>
        Row(page, point).Locator(".toggle").EvaluateAsync<string>("e => getComputedStyle(e, '::before').content").Within(Timeouts.Short);

    private static Task<ProcessResult> HoardAsync(params string[] args) => ProcessRunner.RunAsync(HoardServer.Executable, args, timeout: Timeouts.Cli);

    /// <summary>A GET signed as OSProfiler signs (base64url JSON, HMAC-SHA1 hex with key k1); it must be traced, whatever its status.</summary>
    private static async Task SignedGetAsync(HoardServer server, string baseId, string token, string path)
    {
        using var http = new HttpClient { BaseAddress = new Uri(server.BaseUrl), Timeout = Timeouts.Cli };
        var info = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"base_id\": \"{baseId}\", \"parent_id\": \"{baseId}\"}}")).Replace('+', '-').Replace('/', '_');
#pragma warning disable CA5350 // OSProfiler's header format is HMAC-SHA1.
        var hmac = Convert.ToHexStringLower(HMACSHA1.HashData("k1"u8, Encoding.UTF8.GetBytes(info)));
#pragma warning restore CA5350
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Auth-Token", token);
        request.Headers.Add("X-Trace-Info", info);
        request.Headers.Add("X-Trace-HMAC", hmac);
        using var response = await http.SendAsync(request).Within(Timeouts.Cli);
        Assert.Equal([baseId], response.Headers.GetValues("X-Trace-ID"));
    }

    private static int CountOf(string text, string part) => (text.Length - text.Replace(part, string.Empty, StringComparison.Ordinal).Length) / part.Length;

    private static IEnumerable<JsonNode> Children(JsonNode node) => node["children"]!.AsArray().Select(c => c!);

    private static IEnumerable<JsonNode> Descendants(JsonNode node) => Children(node).SelectMany(c => Descendants(c).Prepend(c));

    private static string Name(JsonNode node) => node["info"]!["name"]!.GetValue<string>();

    private static JsonNode StartInfo(JsonNode node) => node["info"]![$"meta.raw_payload.{Name(node)}-start"]!["info"]!;
}
