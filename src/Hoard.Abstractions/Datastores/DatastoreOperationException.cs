namespace Hoard.Abstractions.Datastores;

/// <summary>
/// A datastore manager's refusal that means "no" rather than "broken": the object exists already, is not
/// there, or the engine does not do that. Its <see cref="Code"/> travels over the guest RPC, so the API
/// answers 409, 404 or 422 with the message instead of a server error.
/// </summary>
public sealed class DatastoreOperationException(string code, string message) : Exception(message)
{
    public const string ConflictCode = "conflict";
    public const string NotFoundCode = "not_found";
    public const string NotSupportedCode = "not_supported";
    public const string InvalidCode = "invalid";

    public string Code { get; } = code;

    public static DatastoreOperationException Conflict(string message) => new(ConflictCode, message);

    public static DatastoreOperationException NotFound(string message) => new(NotFoundCode, message);

    public static DatastoreOperationException NotSupported(string message) => new(NotSupportedCode, message);

    public static DatastoreOperationException Invalid(string message) => new(InvalidCode, message);
}
