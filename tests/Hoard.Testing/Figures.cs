using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hoard.Testing;

/// <summary>
/// What a reliability test measured (faults injected, cases tried, requests refused), kept for
/// docs/RELIABILITY.md. When <c>HOARD_FIGURES</c> names a file (./test.sh sets it to
/// artifacts/figures.jsonl), each call appends one JSON line
/// <c>{"suite":…,"figure":…,"value":…,"at":…}</c>; <c>scripts/reliability-figures.py</c> renders the last
/// value of each figure into the document. Without the variable nothing is written.
/// </summary>
public static class Figures
{
    private static readonly Lock Gate = new();

    /// <summary>Records <paramref name="value"/> (a number, a string, or anything JSON can hold) under a suite and a figure name.</summary>
    public static void Record(string suite, string figure, object value)
    {
        var path = Environment.GetEnvironmentVariable("HOARD_FIGURES");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        var line = new JsonObject
        {
            ["suite"] = suite,
            ["figure"] = figure,
            ["value"] = JsonSerializer.SerializeToNode(value),
            ["at"] = DateTimeOffset.UtcNow.ToString("O"),
        }.ToJsonString();
        lock (Gate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.AppendAllText(path, line + "\n");
        }
    }
}
