using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hoard.Core.Tasks;

/// <summary>
/// Carries a traced request's W3C traceparent in its task's payload, so the task's run — on this control plane or
/// on the one that takes it over after a crash — continues the request's trace.
/// </summary>
public static class TaskTrace
{
    private const string Key = "traceparent";

    /// <summary>The payload with the current trace context added, when the current work is being traced.</summary>
    public static string Stamp(string payload) =>
        Activity.Current is { Recorded: true, IdFormat: ActivityIdFormat.W3C, Id: { } id } ? With(payload, id) : payload;

    /// <summary>The traceparent <paramref name="payload"/> carries, or null.</summary>
    public static string? Of(string payload)
    {
        if (!payload.Contains("\"" + Key + "\"", StringComparison.Ordinal))
        {
            return null; // untraced tasks: no parse at all
        }

        try
        {
            return JsonNode.Parse(payload) is JsonObject o && o[Key] is JsonValue v && v.TryGetValue<string>(out var tp) ? tp : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The trace context to run a task under, or null when it was not traced.</summary>
    public static ActivityContext? ContextOf(string payload) =>
        Of(payload) is { } tp && ActivityContext.TryParse(tp, null, isRemote: true, out var context) ? context : null;

    /// <summary>A replacement payload keeps the task's trace context (a handler writing its own state need not know of it).</summary>
    public static string Keep(string oldPayload, string newPayload) =>
        Of(oldPayload) is { } tp && Of(newPayload) is null ? With(newPayload, tp) : newPayload;

    private static string With(string payload, string traceparent)
    {
        var o = JsonNode.Parse(payload) as JsonObject ?? [];
        o[Key] = traceparent;
        return o.ToJsonString();
    }
}
