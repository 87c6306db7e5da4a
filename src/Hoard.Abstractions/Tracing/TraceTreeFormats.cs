using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hoard.Abstractions.Tracing;

/// <summary>A trace tree written the ways OSProfiler's <c>trace show</c> writes it, so tools made for one read the other.</summary>
public static partial class TraceTreeFormats
{
    /// <summary>OSProfiler's JSON: a "total" root, each point's info with its raw events, and per-category stats.</summary>
    public static JsonObject ToJson(TraceTree tree)
    {
        ArgumentNullException.ThrowIfNull(tree);
        var stats = new JsonObject();
        foreach (var (name, (count, duration)) in tree.Stats.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            stats[name] = new JsonObject { ["count"] = count, ["duration"] = duration };
        }

        return new JsonObject
        {
            ["info"] = new JsonObject { ["name"] = "total", ["started"] = 0, ["finished"] = tree.Finished, ["last_trace_started"] = tree.LastTraceStarted },
            ["children"] = new JsonArray([.. tree.Children.Select(Node)]),
            ["stats"] = stats,
        };
    }

    /// <summary>Graphviz, labelled as OSProfiler labels it (service:name - N ms, and the request or the called method).</summary>
    public static string ToDot(TraceTree tree)
    {
        ArgumentNullException.ThrowIfNull(tree);
        var sb = new StringBuilder("digraph {\n");
        var next = 0;
        sb.Append(CultureInfo.InvariantCulture, $"\t{next++} [label=\"total - {tree.Finished} ms\"]\n");
        foreach (var child in tree.Children)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\t0 -> {Dot(child, sb, ref next)}\n");
        }

        return sb.Append("}\n").ToString();
    }

    /// <summary>An indented text tree: one line per point with its start offset, duration and error.</summary>
    public static string ToText(TraceTree tree)
    {
        ArgumentNullException.ThrowIfNull(tree);
        var sb = new StringBuilder().Append(CultureInfo.InvariantCulture, $"total {tree.Finished} ms\n");
        void Line(TraceNode n, int depth)
        {
            sb.Append(' ', 2 * depth).Append(CultureInfo.InvariantCulture, $"{n.Service}:{n.Name} +{n.Started} ms, {n.Finished - n.Started} ms");
            if (Detail(n) is { Length: > 0 } detail)
            {
                sb.Append("  ").Append(detail);
            }

            if (n.Exception != "None")
            {
                sb.Append("  ! ").Append(n.Exception);
            }

            sb.Append('\n');
            foreach (var c in n.Children)
            {
                Line(c, depth + 1);
            }
        }

        foreach (var c in tree.Children)
        {
            Line(c, 1);
        }

        sb.Append("stats:");
        foreach (var (name, (count, duration)) in tree.Stats.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            sb.Append(CultureInfo.InvariantCulture, $" {name} {count}x {duration} ms;");
        }

        return sb.Append('\n').ToString();
    }

    private static JsonObject Node(TraceNode n)
    {
        var info = new JsonObject
        {
            ["name"] = n.Name,
            ["project"] = n.Project,
            ["service"] = n.Service,
            ["host"] = n.Host,
            ["started"] = n.Started,
            ["finished"] = n.Finished,
            ["exception"] = n.Exception,
        };
        foreach (var (name, raw) in n.RawPayloads)
        {
            info["meta.raw_payload." + name] = JsonNode.Parse(raw.GetRawText());
        }

        return new JsonObject
        {
            ["info"] = info,
            ["trace_id"] = n.TraceId,
            ["parent_id"] = n.ParentId,
            ["children"] = new JsonArray([.. n.Children.Select(Node)]),
        };
    }

    private static int Dot(TraceNode n, StringBuilder sb, ref int next)
    {
        var id = next++;
        var label = $"{n.Service}:{n.Name} - {n.Finished - n.Started} ms";
        if (Detail(n) is { Length: > 0 } detail)
        {
            label += "\\n" + detail;
        }

        sb.Append(CultureInfo.InvariantCulture, $"\t{id} [label=\"{label.Replace("\"", "\\\"", StringComparison.Ordinal)}\"]\n");
        foreach (var child in n.Children)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\t{id} -> {Dot(child, sb, ref next)}\n");
        }

        return id;
    }

    /// <summary>What a point was about, from its start event: the request, the called function, the task or the command.</summary>
    private static string Detail(TraceNode n)
    {
        if (!n.RawPayloads.TryGetValue(n.Name + "-start", out var start) || !start.TryGetProperty("info", out var info) || info.ValueKind != JsonValueKind.Object)
        {
            return string.Empty;
        }

        static string? Get(JsonElement e, params string[] path)
        {
            foreach (var p in path)
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out e))
                {
                    return null;
                }
            }

            return e.ValueKind == JsonValueKind.String ? e.GetString() : e.ToString();
        }

        return Get(info, "request", "method") is { } method ? $"{method} {Get(info, "request", "path")}"
            : Get(info, "function", "name") is { } function ? function
            : Get(info, "task", "kind") is { } kind ? kind
            : Get(info, "command") ?? string.Empty;
    }
}
