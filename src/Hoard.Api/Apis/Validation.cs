using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Hoard.Core;

namespace Hoard.Api.Apis;

/// <summary>
/// Checks request bodies against rules equivalent to Trove's apischema.py, and words the failures as
/// Trove does: "Validation error: instance['name'] 5 is not of type 'string'; ...".
/// </summary>
public sealed partial class Validation
{
    private readonly List<string> _errors = [];

    public bool Failed => _errors.Count > 0;

    public void Fail(string path, string message) => _errors.Add(path.Length == 0 ? message : $"{path} {message}");

    public void ThrowIfFailed()
    {
        if (_errors.Count > 0)
        {
            throw ApiException.BadRequest("Validation error: " + string.Join("; ", _errors));
        }
    }

    /// <summary>The object at <paramref name="key"/> of <paramref name="parent"/>; reports and returns null when it is missing or not an object.</summary>
    public JsonObject? RequiredObject(JsonObject parent, string parentPath, string key)
    {
        if (!parent.TryGetPropertyValue(key, out var node) || node is null && !parent.ContainsKey(key))
        {
            Fail(parentPath, $"'{key}' is a required property");
            return null;
        }

        return Object(node, Path(parentPath, key));
    }

    public JsonObject? OptionalObject(JsonObject parent, string parentPath, string key) =>
        parent.TryGetPropertyValue(key, out var node) ? Object(node, Path(parentPath, key)) : null;

    private JsonObject? Object(JsonNode? node, string path)
    {
        if (node is JsonObject o)
        {
            return o;
        }

        Fail(path, $"{Repr(node)} is not of type 'object'");
        return null;
    }

    /// <summary>Trove's non_empty_string: 1 to <paramref name="maxLength"/> characters with at least one letter or digit.</summary>
    public string? NonEmptyString(JsonObject parent, string parentPath, string key, bool required, int maxLength = 255)
    {
        if (!parent.TryGetPropertyValue(key, out var node))
        {
            if (required)
            {
                Fail(parentPath, $"'{key}' is a required property");
            }

            return null;
        }

        var path = Path(parentPath, key);
        if (node is not JsonValue v || !v.TryGetValue<string>(out var s))
        {
            Fail(path, $"{Repr(node)} is not of type 'string'");
            return null;
        }

        var before = _errors.Count;
        if (s.Length == 0)
        {
            Fail(path, $"{Repr(node)} is too short");
        }
        else if (s.Length > maxLength)
        {
            Fail(path, $"{Repr(node)} is too long");
        }

        if (!HasAlphanumeric().IsMatch(s))
        {
            Fail(path, $"{Repr(node)} does not match '^.*[0-9a-zA-Z]+.*$'");
        }

        return _errors.Count == before ? s : null;
    }

    /// <summary>The array at <paramref name="key"/>; reports and returns null when it is missing (if required) or not an array of objects.</summary>
    public IReadOnlyList<(JsonObject Item, string Path)>? ArrayOfObjects(JsonObject parent, string parentPath, string key, bool required)
    {
        if (!parent.TryGetPropertyValue(key, out var node))
        {
            if (required)
            {
                Fail(parentPath, $"'{key}' is a required property");
            }

            return null;
        }

        var path = Path(parentPath, key);
        if (node is not JsonArray array)
        {
            Fail(path, $"{Repr(node)} is not of type 'array'");
            return null;
        }

        var items = new List<(JsonObject, string)>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is JsonObject o)
            {
                items.Add((o, $"{path}[{i}]"));
            }
            else
            {
                Fail($"{path}[{i}]", $"{Repr(array[i])} is not of type 'object'");
            }
        }

        return items;
    }

    /// <summary>Trove's host_string: '%', an address, or an address pattern with '%' wildcards.</summary>
    public string? HostString(JsonObject parent, string parentPath, string key)
    {
        if (!parent.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        var path = Path(parentPath, key);
        if (node is not JsonValue v || !v.TryGetValue<string>(out var s))
        {
            Fail(path, $"{Repr(node)} is not of type 'string'");
            return null;
        }

        if (s.Length == 0)
        {
            Fail(path, $"{Repr(node)} is too short");
            return null;
        }

        if (s.Length > 255 || !HostPattern().IsMatch(s))
        {
            Fail(path, $"{Repr(node)} is not a valid host: use '%', an IP address, or an address pattern with '%' wildcards");
            return null;
        }

        return s;
    }

    /// <summary>Trove's flavorRef: a non-empty string or an integer (or an href whose last segment is the id).</summary>
    public string? FlavorRef(JsonObject parent, string parentPath)
    {
        if (!parent.TryGetPropertyValue("flavorRef", out var node))
        {
            return null;
        }

        var path = Path(parentPath, "flavorRef");
        if (node is JsonValue v)
        {
            if (v.TryGetValue<long>(out var n) && v.GetValueKind() == JsonValueKind.Number)
            {
                return n.ToString(CultureInfo.InvariantCulture);
            }

            if (v.TryGetValue<string>(out var s) && s.Length is > 0 and <= 255 && HasAlphanumeric().IsMatch(s))
            {
                return s.TrimEnd('/').Split('/')[^1];
            }
        }

        var reasons = new List<string> { $"{Repr(node)} is not valid under any of the given schemas" };
        if (node is JsonValue sv && sv.TryGetValue<string>(out var str))
        {
            reasons.Add(str.Length == 0 ? $"{Repr(node)} is too short" : str.Length > 255 ? $"{Repr(node)} is too long" : $"{Repr(node)} does not match '^.*[0-9a-zA-Z]+.*$'");
        }
        else
        {
            reasons.Add($"{Repr(node)} is not of type 'string'");
        }

        reasons.Add($"{Repr(node)} is not of type 'integer'");
        Fail(path, string.Join("; ", reasons));
        return null;
    }

    /// <summary>Trove's volume size: an integer of at least 1, or a string of digits.</summary>
    public int? VolumeSize(JsonObject volume, string parentPath)
    {
        if (!volume.TryGetPropertyValue("size", out var node))
        {
            Fail(parentPath, "'size' is a required property");
            return null;
        }

        var path = Path(parentPath, "size");
        if (node is JsonValue v)
        {
            if (v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var n))
            {
                if (n >= 1)
                {
                    return n;
                }

                Fail(path, $"{Repr(node)} is not valid under any of the given schemas; {Repr(node)} is less than the minimum of 1; {Repr(node)} is not of type 'string'");
                return null;
            }

            if (v.TryGetValue<string>(out var s) && s.Length is > 0 and <= 40 && PositiveDigits().IsMatch(s) && int.TryParse(s, CultureInfo.InvariantCulture, out var parsed))
            {
                return parsed;
            }
        }

        Fail(path, $"{Repr(node)} is not valid under any of the given schemas; {Repr(node)} is not of type 'integer'");
        return null;
    }

    /// <summary>Rejects keys outside <paramref name="allowed"/>, as a schema with additionalProperties: false.</summary>
    public void NoAdditionalProperties(JsonObject o, string path, params string[] allowed)
    {
        var extra = o.Select(p => p.Key).Where(k => !allowed.Contains(k, StringComparer.Ordinal)).ToList();
        if (extra.Count > 0)
        {
            Fail(path, $"Additional properties are not allowed ({string.Join(", ", extra.Select(e => $"'{e}'"))} {(extra.Count == 1 ? "was" : "were")} unexpected)");
        }
    }

    public static string Path(string parent, string key) => parent.Length == 0 ? key : $"{parent}['{key}']";

    /// <summary>Shows a JSON value the way Trove's messages do (Python's repr).</summary>
    public static string Repr(JsonNode? node)
    {
        string text = node switch
        {
            null => "None",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => $"'{v.GetValue<string>()}'",
            JsonValue v when v.GetValueKind() == JsonValueKind.True => "True",
            JsonValue v when v.GetValueKind() == JsonValueKind.False => "False",
            _ => node.ToJsonString(),
        };

        // Echo enough of a value to recognise it, never megabytes of it.
        return text.Length > 80 ? text[..77] + "..." : text;
    }

    // Trove's host_string, plus ':' so IPv6 hosts can be written.
    [GeneratedRegex(@"^%?[\w().:/-]*%?$", RegexOptions.CultureInvariant)]
    private static partial Regex HostPattern();

    [GeneratedRegex("[0-9a-zA-Z]")]
    private static partial Regex HasAlphanumeric();

    [GeneratedRegex("^0*[1-9]+[0-9]*$")]
    private static partial Regex PositiveDigits();
}
