using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Abstractions.Datastores;
using Hoard.Abstractions.Guest;
using Hoard.Core.Guests;

namespace Hoard.Core.Instances;

/// <summary>
/// The databases and users of a create request. They must outlive a crash until the create task runs, so they
/// ride in the task's payload, sealed with the master key: the users' passwords are never stored in the clear.
/// </summary>
public sealed record InitialSchema(IReadOnlyList<DatabaseSpec> Databases, IReadOnlyList<UserSpec> Users)
{
    private const string Key = "sealed_schema";

    public static readonly InitialSchema Empty = new([], []);

    public bool IsEmpty => Databases.Count == 0 && Users.Count == 0;

    /// <summary>The task payload that carries this schema.</summary>
    public string ToPayload(GuestSecrets secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (IsEmpty)
        {
            return "{}";
        }

        var json = JsonSerializer.Serialize(new PrepareArguments { Databases = Databases, Users = Users }, GuestArguments.Json);
        return new JsonObject { [Key] = secrets.Seal(json) }.ToJsonString();
    }

    public static InitialSchema Open(string payload, GuestSecrets secrets)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        if (JsonNode.Parse(payload) is not JsonObject o || o[Key] is not JsonValue sealedValue)
        {
            return Empty;
        }

        var prepare = JsonSerializer.Deserialize<PrepareArguments>(secrets.Unseal(sealedValue.GetValue<string>()), GuestArguments.Json)
            ?? new PrepareArguments();
        return new InitialSchema(prepare.Databases, prepare.Users);
    }

    public override string ToString() => $"{Databases.Count} database(s), {Users.Count} user(s)";
}
