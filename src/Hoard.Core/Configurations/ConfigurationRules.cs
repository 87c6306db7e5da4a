using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Datastores;

namespace Hoard.Core.Configurations;

/// <summary>
/// Checks configuration group values against the rules the engine gave (Trove's _validate_configuration, with its
/// messages), and turns them into the strings a guest applies.
/// </summary>
public static class ConfigurationRules
{
    /// <summary>
    /// The values checked, under the engine's parameter names, as stored JSON; throws a 422 naming the first parameter
    /// that is unknown, of the wrong type, out of range or not one of the allowed values.
    /// </summary>
    public static JsonObject Validate(IReadOnlyList<ConfigurationParameter> parameters, JsonObject values, string datastoreLabel)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(values);
        if (parameters.Count == 0)
        {
            throw ApiException.Unprocessable($"Configuration groups are not supported for this datastore: {datastoreLabel}");
        }

        var byName = new Dictionary<string, ConfigurationParameter>(StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in parameters)
        {
            byName.TryAdd(parameter.Name, parameter);
        }

        var valid = new JsonObject();
        foreach (var (key, value) in values)
        {
            if (!byName.TryGetValue(key, out var rule))
            {
                throw ApiException.Unprocessable($"The configuration parameter {key} is not supported for this datastore: {datastoreLabel}.");
            }

            Check(rule, key, value);
            valid[rule.Name] = value?.DeepClone();
        }

        return valid;
    }

    /// <summary>Stored values (a JSON object) as the strings the engine is given: numbers invariant, booleans true/false.</summary>
    public static Dictionary<string, string> EngineValues(string storedValues)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (JsonNode.Parse(storedValues) is not JsonObject parsed)
        {
            return values;
        }

        foreach (var (name, value) in parsed)
        {
            values[name] = value switch
            {
                JsonValue v when v.GetValueKind() == JsonValueKind.True => "true",
                JsonValue v when v.GetValueKind() == JsonValueKind.False => "false",
                JsonValue v when v.TryGetValue<string>(out var text) => text,
                JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
                _ => value?.ToJsonString() ?? string.Empty,
            };
        }

        return values;
    }

    /// <summary>The stored values as a JSON object (an empty one for anything else).</summary>
    public static JsonObject Parse(string storedValues) => JsonNode.Parse(storedValues) as JsonObject ?? [];

    private static void Check(ConfigurationParameter rule, string key, JsonNode? value)
    {
        var kind = value is JsonValue v ? v.GetValueKind() : value is null ? JsonValueKind.Null : JsonValueKind.Object;
        var typeOk = rule.Type switch
        {
            ParameterTypes.Integer => kind == JsonValueKind.Number && long.TryParse(value!.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
            ParameterTypes.Float => kind == JsonValueKind.Number,
            ParameterTypes.Boolean => kind is JsonValueKind.True or JsonValueKind.False,
            _ => kind == JsonValueKind.String,
        };
        if (!typeOk)
        {
            throw ApiException.Unprocessable($"The value provided for the configuration parameter {key} is not of type {rule.Type}.");
        }

        if (kind == JsonValueKind.Number)
        {
            if (!decimal.TryParse(value!.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                throw ApiException.Unprocessable($"The value for the configuration parameter {key} is out of range.");
            }

            if (rule.Min is { } min && number < min)
            {
                throw ApiException.Unprocessable($"The value for the configuration parameter {key} is less than the minimum allowed: {Format(min)}");
            }

            if (rule.Max is { } max && number > max)
            {
                throw ApiException.Unprocessable($"The value for the configuration parameter {key} is greater than the maximum allowed: {Format(max)}");
            }
        }

        if (kind == JsonValueKind.String)
        {
            var text = value!.GetValue<string>();
            if (text.Any(char.IsControl))
            {
                throw ApiException.Unprocessable($"The value for the configuration parameter {key} contains control characters.");
            }

            if (rule.AllowedValues is { Count: > 0 } allowed && !allowed.Contains(text, StringComparer.OrdinalIgnoreCase))
            {
                throw ApiException.Unprocessable(
                    $"The value for the configuration parameter {key} is not allowed: '{text}'. Allowed values: {string.Join(", ", allowed)}.");
            }
        }
    }

    private static string Format(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}
