namespace Hoard.Core.Configuration;

/// <summary>
/// Reads INI files in the style of OpenStack's trove.conf: <c>[section]</c> headers, <c>key = value</c>
/// lines, <c>#</c> or <c>;</c> comments. Keys before any header belong to [DEFAULT].
/// </summary>
public static class IniFile
{
    public static Dictionary<string, Dictionary<string, string>> Parse(string text, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sections = new Dictionary<string, Dictionary<string, string>>(StringComparer.OrdinalIgnoreCase);
        var current = "DEFAULT";
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line[0] == '[')
            {
                if (line[^1] != ']' || line.Length < 3)
                {
                    throw new ConfigurationException($"{sourceName}:{lineNumber}: malformed section header '{line}'");
                }

                current = line[1..^1].Trim();
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ConfigurationException($"{sourceName}:{lineNumber}: expected 'key = value', got '{line}'");
            }

            if (!sections.TryGetValue(current, out var values))
            {
                values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                sections[current] = values;
            }

            values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
        }

        return sections;
    }
}

/// <summary>A configuration problem, reported to the operator at start-up.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
