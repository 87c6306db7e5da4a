using System.Text.Json.Nodes;
using Hoard.Api.Apis;
using Hoard.Core;
using Xunit;

namespace Hoard.Core.Tests;

public sealed class ValidationTests
{
    [Fact]
    public void Several_problems_are_reported_together_in_troves_words()
    {
        var body = JsonNode.Parse("""{"flavorRef": 2.5, "volume": {"size": "abc"}}""")!.AsObject();
        var v = new Validation();
        v.NonEmptyString(body, "instance", "name", required: true);
        v.FlavorRef(body, "instance");
        v.VolumeSize(body["volume"]!.AsObject(), "instance['volume']");
        var e = Assert.Throws<ApiException>(v.ThrowIfFailed);
        Assert.Equal(400, e.Status);
        Assert.Equal(
            "Validation error: instance 'name' is a required property; "
            + "instance['flavorRef'] 2.5 is not valid under any of the given schemas; 2.5 is not of type 'string'; 2.5 is not of type 'integer'; "
            + "instance['volume']['size'] 'abc' is not valid under any of the given schemas; 'abc' is not of type 'integer'",
            e.Message);
    }

    [Theory]
    [InlineData("\"2\"", "2")]
    [InlineData("2", "2")]
    [InlineData("\"http://host/v1.0/p/flavors/3\"", "3")]
    public void Flavor_refs_are_ids_numbers_or_links(string json, string id)
    {
        var body = JsonNode.Parse($"{{\"flavorRef\": {json}}}")!.AsObject();
        var v = new Validation();
        Assert.Equal(id, v.FlavorRef(body, "instance"));
        Assert.False(v.Failed);
    }

    [Fact]
    public void Huge_values_are_not_echoed_whole()
    {
        var body = new JsonObject { ["name"] = new string('x', 10_000) };
        var v = new Validation();
        v.NonEmptyString(body, "instance", "name", required: true);
        var e = Assert.Throws<ApiException>(v.ThrowIfFailed);
        Assert.True(e.Message.Length < 200, e.Message);
    }
}
