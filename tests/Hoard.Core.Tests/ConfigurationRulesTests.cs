using System.Text.Json.Nodes;
using Hoard.Abstractions.Datastores;
using Hoard.Core;
using Hoard.Core.Configurations;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class ConfigurationRulesTests
{
    private static readonly ConfigurationParameter[] Rules =
    [
        new("max_connections", ParameterTypes.Integer, RestartRequired: true, Min: 1, Max: 10000),
        new("random_page_cost", ParameterTypes.Float, RestartRequired: false, Min: 0, Max: 100),
        new("autovacuum", ParameterTypes.Boolean, RestartRequired: false),
        new("maxmemory-policy", ParameterTypes.String, RestartRequired: false, AllowedValues: ["noeviction", "allkeys-lru"]),
        new("application_name", ParameterTypes.String, RestartRequired: false),
    ];

    private static string Refusal(JsonObject values)
    {
        var e = Assert.Throws<ApiException>(() => ConfigurationRules.Validate(Rules, values, "postgresql 15"));
        Assert.Equal(422, e.Status);
        return e.Message;
    }

    [Fact]
    public void Valid_values_are_kept_under_the_engines_names()
    {
        var valid = ConfigurationRules.Validate(
            Rules,
            new JsonObject { ["MAX_CONNECTIONS"] = 200, ["random_page_cost"] = 1.5, ["autovacuum"] = false, ["maxmemory-policy"] = "AllKeys-LRU", ["application_name"] = "" },
            "postgresql 15");
        Assert.Equal(200, valid["max_connections"]!.GetValue<int>());
        Assert.Null(valid["MAX_CONNECTIONS"]);
        Assert.Equal(5, valid.Count);
    }

    [Theory]
    [InlineData("{\"nope\": 1}", "The configuration parameter nope is not supported for this datastore: postgresql 15.")]
    [InlineData("{\"max_connections\": \"200\"}", "The value provided for the configuration parameter max_connections is not of type integer.")]
    [InlineData("{\"max_connections\": true}", "The value provided for the configuration parameter max_connections is not of type integer.")]
    [InlineData("{\"max_connections\": 1.5}", "The value provided for the configuration parameter max_connections is not of type integer.")]
    [InlineData("{\"max_connections\": null}", "The value provided for the configuration parameter max_connections is not of type integer.")]
    [InlineData("{\"max_connections\": 99999999999999999999999}", "The value provided for the configuration parameter max_connections is not of type integer.")]
    [InlineData("{\"max_connections\": 0}", "The value for the configuration parameter max_connections is less than the minimum allowed: 1")]
    [InlineData("{\"max_connections\": 10001}", "The value for the configuration parameter max_connections is greater than the maximum allowed: 10000")]
    [InlineData("{\"random_page_cost\": 1e400}", "The value for the configuration parameter random_page_cost is out of range.")]
    [InlineData("{\"random_page_cost\": -0.5}", "The value for the configuration parameter random_page_cost is less than the minimum allowed: 0")]
    [InlineData("{\"autovacuum\": 1}", "The value provided for the configuration parameter autovacuum is not of type boolean.")]
    [InlineData("{\"autovacuum\": \"on\"}", "The value provided for the configuration parameter autovacuum is not of type boolean.")]
    [InlineData("{\"maxmemory-policy\": \"sometimes\"}", "The value for the configuration parameter maxmemory-policy is not allowed: 'sometimes'. Allowed values: noeviction, allkeys-lru.")]
    [InlineData("{\"application_name\": 5}", "The value provided for the configuration parameter application_name is not of type string.")]
    [InlineData("{\"application_name\": [\"a\"]}", "The value provided for the configuration parameter application_name is not of type string.")]
    [InlineData("{\"application_name\": \"a\\nb\"}", "The value for the configuration parameter application_name contains control characters.")]
    public void Bad_values_are_refused_naming_the_parameter(string values, string message) =>
        Assert.Equal(message, Refusal((JsonObject)JsonNode.Parse(values)!));

    [Fact]
    public void A_version_without_rules_has_no_groups()
    {
        var e = Assert.Throws<ApiException>(() => ConfigurationRules.Validate([], new JsonObject { ["a"] = 1 }, "redis 7.0"));
        Assert.Equal("Configuration groups are not supported for this datastore: redis 7.0", e.Message);
    }

    [Fact]
    public void Engine_values_are_invariant_strings()
    {
        var values = ConfigurationRules.EngineValues("{\"a\": 200, \"b\": 1.5, \"c\": true, \"d\": false, \"e\": \"allkeys-lru\"}");
        Assert.Equal("200", values["a"]);
        Assert.Equal("1.5", values["b"]);
        Assert.Equal("true", values["c"]);
        Assert.Equal("false", values["d"]);
        Assert.Equal("allkeys-lru", values["e"]);
        Assert.Empty(ConfigurationRules.EngineValues("[]"));
    }
}
