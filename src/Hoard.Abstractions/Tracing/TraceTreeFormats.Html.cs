using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Hoard.Abstractions.Tracing;

public static partial class TraceTreeFormats
{
    // The page's only script, fixed text: trace data lives in the (escaped) markup, never in code. Clicking a row
    // with children (or pressing Enter/Space on it) folds its subtree; on a leaf it pins the point's details open.
    private const string HtmlScript = """
        (function () {
          var timeline = document.getElementById('timeline');
          function toggle(row) {
            var node = row.parentElement;
            if (node.querySelector(':scope > .kids')) {
              var collapsed = node.classList.toggle('collapsed');
              node.setAttribute('aria-expanded', String(!collapsed));
            } else {
              node.classList.toggle('pinned');
            }
          }
          timeline.addEventListener('click', function (e) {
            var row = e.target.closest('.row');
            if (row) { toggle(row); }
          });
          timeline.addEventListener('keydown', function (e) {
            if ((e.key === 'Enter' || e.key === ' ') && e.target.classList.contains('row')) {
              e.preventDefault();
              toggle(e.target);
            }
          });
          function all(collapse) {
            timeline.querySelectorAll('.node').forEach(function (node) {
              if (node.querySelector(':scope > .kids')) {
                node.classList.toggle('collapsed', collapse);
                node.setAttribute('aria-expanded', String(!collapse));
              }
            });
          }
          document.getElementById('expand-all').addEventListener('click', function () { all(false); });
          document.getElementById('collapse-all').addEventListener('click', function () { all(true); });
        })();
        """;

    private const string HtmlStyle = """
        body { font: 13px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2330; }
        h1 { font-size: 1.3em; margin: 0 0 .3em; } code { font: 12px ui-monospace, monospace; }
        .summary { color: #555; margin: 0 0 1em; }
        button { font: inherit; margin-right: .5em; }
        #timeline { border: 1px solid #ccd; margin: .8em 0 1.5em; }
        .row, .head { display: grid; grid-template-columns: minmax(18em, 2.2fr) 8.5em 9em 6em 3fr; align-items: center; min-height: 1.7em; }
        .row > span, .head > span { padding: 0 .4em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .head { background: #eef0f5; font-weight: 600; border-bottom: 1px solid #ccd; position: sticky; top: 0; z-index: 3; }
        .row { cursor: pointer; border-bottom: 1px solid #f0f1f4; }
        .row:hover, .row:focus { background: #f3f6ff; outline: none; }
        .dur { text-align: right; font-variant-numeric: tabular-nums; }
        .toggle { display: inline-block; width: 1.1em; color: #667; }
        .parent > .label > .toggle::before { content: '\25BE'; }
        .collapsed > .parent > .label > .toggle::before { content: '\25B8'; }
        .collapsed > .kids { display: none; }
        .detail { color: #667; margin-left: .4em; }
        .error { color: #b00020; margin-left: .4em; }
        .track, .axis { position: relative; height: 1.1em; }
        .bar { position: absolute; top: .2em; bottom: .2em; min-width: 2px; background: #4a78d0; border-radius: 2px; }
        .failed .bar { background: #c62828; }
        .failed .name { color: #b00020; font-weight: 600; }
        .tick { position: absolute; top: 0; font-weight: 400; color: #667; transform: translateX(-50%); }
        .tick:first-child { transform: none; } .tick:last-child { transform: translateX(-100%); }
        .node { position: relative; }
        .info { display: none; margin: 0; padding: .4em .8em; background: #fffbe6; border: 1px solid #e5d9a0; font: 12px ui-monospace, monospace; }
        .info div { display: flex; gap: 1em; } .info dt { color: #665; min-width: 12em; } .info dd { margin: 0; white-space: pre-wrap; word-break: break-all; }
        .row:hover + .info { display: block; position: absolute; z-index: 2; pointer-events: none; left: 2em; right: 30%; box-shadow: 0 2px 6px rgba(0,0,0,.15); }
        .pinned > .info { display: block; position: static; box-shadow: none; }
        table.stats { border-collapse: collapse; } .stats th, .stats td { border: 1px solid #ccd; padding: .2em .7em; text-align: right; }
        .stats th:first-child, .stats td:first-child { text-align: left; }
        """;

    // Only this exact script may run: even a string that escaped escaping could not execute.
    private static readonly string HtmlScriptHash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(HtmlScript)));

    /// <summary>
    /// One self-contained HTML page (inline style and script, nothing fetched) with the trace as a collapsible
    /// timeline: a row per point indented by depth, its bar on a shared time axis, and the per-category stats.
    /// </summary>
    public static string ToHtml(TraceTree tree, string traceId)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentNullException.ThrowIfNull(traceId);
        var total = Math.Max(tree.Finished, 1);
        var points = 0;
        var failed = 0;
        void Count(TraceNode n)
        {
            points++;
            failed += n.Exception != "None" ? 1 : 0;
            foreach (var c in n.Children)
            {
                Count(c);
            }
        }

        foreach (var c in tree.Children)
        {
            Count(c);
        }

        var sb = new StringBuilder(4096 + (points * 600));
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-")
            .Append(HtmlScriptHash).Append("'\">\n")
            .Append("<title>Trace ").Append(Escape(traceId)).Append("</title>\n<style>\n").Append(HtmlStyle).Append("</style>\n</head>\n<body>\n")
            .Append("<h1>Trace <code>").Append(Escape(traceId)).Append("</code></h1>\n")
            .Append(CultureInfo.InvariantCulture, $"<p class=\"summary\">{points} points, {tree.Finished} ms in all, {failed} failed. Click a row to fold its subtree; hover for its details.</p>\n")
            .Append("<button type=\"button\" id=\"expand-all\">Expand all</button><button type=\"button\" id=\"collapse-all\">Collapse all</button>\n")
            .Append("<div id=\"timeline\" role=\"tree\">\n<div class=\"head\"><span class=\"label\">point</span><span>service</span><span>host</span><span class=\"dur\">duration</span><span class=\"axis\">");
        for (var i = 0; i <= 4; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<span class=\"tick\" style=\"left:{i * 25}%\">{tree.Finished * i / 4} ms</span>");
        }

        sb.Append("</span></div>\n");
        foreach (var c in tree.Children)
        {
            HtmlNode(sb, c, 0, total);
        }

        sb.Append("</div>\n<h2>Per category</h2>\n<table class=\"stats\">\n<thead><tr><th>category</th><th>count</th><th>total ms</th></tr></thead>\n<tbody>\n");
        foreach (var (name, (count, duration)) in tree.Stats.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            sb.Append("<tr><td>").Append(Escape(name)).Append(CultureInfo.InvariantCulture, $"</td><td>{count}</td><td>{duration}</td></tr>\n");
        }

        return sb.Append("</tbody>\n</table>\n<script>").Append(HtmlScript).Append("</script>\n</body>\n</html>\n").ToString();
    }

    private static void HtmlNode(StringBuilder sb, TraceNode n, int depth, long total)
    {
        var duration = n.Finished - n.Started;
        var left = Percent(n.Started, total);
        var width = Percent(duration, total);
        var failed = n.Exception != "None";
        var error = failed ? ErrorOf(n) : null;
        sb.Append("<div class=\"node\" role=\"treeitem\"").Append(n.Children.Count > 0 ? " aria-expanded=\"true\"" : string.Empty).Append(">\n")
            .Append("<div class=\"row").Append(n.Children.Count > 0 ? " parent" : string.Empty).Append(failed ? " failed" : string.Empty)
            .Append("\" tabindex=\"0\" data-point=\"").Append(Escape(n.TraceId)).Append("\">")
            .Append(CultureInfo.InvariantCulture, $"<span class=\"label\" style=\"padding-left:{0.4 + (1.2 * depth):0.0}em\"><span class=\"toggle\"></span>")
            .Append("<span class=\"name\">").Append(Escape(n.Name)).Append("</span>");
        if (Detail(n) is { Length: > 0 } detail)
        {
            sb.Append("<span class=\"detail\">").Append(Escape(detail)).Append("</span>");
        }

        if (error is not null)
        {
            sb.Append("<span class=\"error\">\u2716 ").Append(Escape(error)).Append("</span>");
        }

        sb.Append("</span><span class=\"service\">").Append(Escape(n.Service ?? string.Empty))
            .Append("</span><span class=\"host\">").Append(Escape(n.Host ?? string.Empty))
            .Append(CultureInfo.InvariantCulture, $"</span><span class=\"dur\">{duration} ms</span>")
            .Append(CultureInfo.InvariantCulture, $"<span class=\"track\"><span class=\"bar\" style=\"left:{left}%;width:{width}%\"></span></span></div>\n");

        sb.Append("<dl class=\"info\">");
        foreach (var (key, value) in InfoOf(n))
        {
            sb.Append("<div><dt>").Append(Escape(key)).Append("</dt><dd>").Append(Escape(value)).Append("</dd></div>");
        }

        sb.Append("</dl>\n");
        if (n.Children.Count > 0)
        {
            sb.Append("<div class=\"kids\" role=\"group\">\n");
            foreach (var c in n.Children)
            {
                HtmlNode(sb, c, depth + 1, total);
            }

            sb.Append("</div>\n");
        }

        sb.Append("</div>\n");
    }

    /// <summary>What a user wants to see of a point: its timings, the start event's info flattened to dotted keys, and the error.</summary>
    private static List<(string Key, string Value)> InfoOf(TraceNode n)
    {
        var result = new List<(string, string)>
        {
            ("started", $"+{n.Started.ToString(CultureInfo.InvariantCulture)} ms"),
            ("finished", $"+{n.Finished.ToString(CultureInfo.InvariantCulture)} ms"),
            ("trace_id", n.TraceId),
            ("parent_id", n.ParentId),
        };
        void Flatten(string prefix, JsonElement e)
        {
            foreach (var p in e.EnumerateObject())
            {
                var key = prefix + p.Name;
                if (p.Value.ValueKind == JsonValueKind.Object)
                {
                    Flatten(key + ".", p.Value);
                }
                else if (key != "host")
                {
                    result.Add((key, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() ?? string.Empty : p.Value.GetRawText()));
                }
            }
        }

        if (StartInfo(n) is { } info)
        {
            Flatten(string.Empty, info);
        }

        if (n.Exception != "None")
        {
            result.Add(("error", ErrorOf(n)));
        }

        return result;
    }

    private static JsonElement? StartInfo(TraceNode n) =>
        n.RawPayloads.TryGetValue(n.Name + "-start", out var start) && start.ValueKind == JsonValueKind.Object
            && start.TryGetProperty("info", out var info) && info.ValueKind == JsonValueKind.Object ? info : null;

    /// <summary>The error type and, when the stop event has one, its message.</summary>
    private static string ErrorOf(TraceNode n)
    {
        var message = n.RawPayloads.TryGetValue(n.Name + "-stop", out var stop) && stop.ValueKind == JsonValueKind.Object
            && stop.TryGetProperty("info", out var info) && info.ValueKind == JsonValueKind.Object
            && info.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        return string.IsNullOrEmpty(message) ? n.Exception : $"{n.Exception}: {message}";
    }

    private static string Percent(long part, long total) =>
        Math.Clamp(100.0 * part / total, 0, 100).ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Text for an element's content or a double-quoted attribute: &lt; &gt; &amp; " ' all encoded.</summary>
    private static string Escape(string text) => WebUtility.HtmlEncode(text);
}
