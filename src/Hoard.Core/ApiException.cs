namespace Hoard.Core;

/// <summary>
/// A request the control plane refuses, with the HTTP status and Trove's fault name
/// (<c>{"badRequest": {"code": 400, "message": ...}}</c>).
/// </summary>
public sealed class ApiException(int status, string fault, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Fault { get; } = fault;

    public static ApiException BadRequest(string message) => new(400, "badRequest", message);

    public static ApiException Unauthorized(string message) => new(401, "unauthorized", message);

    public static ApiException Forbidden(string message) => new(403, "forbidden", message);

    public static ApiException NotFound(string message) => new(404, "itemNotFound", message);

    public static ApiException Conflict(string message) => new(409, "conflict", message);

    public static ApiException OverLimit(string message) => new(413, "overLimit", message);

    public static ApiException Unprocessable(string message) => new(422, "unprocessableEntity", message);

    /// <summary>Trove's 415 (webob's HTTPUnsupportedMediaType, which Trove names badMediaType): a body of a media type it does not read.</summary>
    public static ApiException UnsupportedMediaType(string message) => new(415, "badMediaType", message);

    public static ApiException NotImplemented(string message) => new(501, "notImplemented", message);

    /// <summary>A part the request needs is not answering now; the request may succeed when retried.</summary>
    public static ApiException Unavailable(string message) => new(503, "serviceUnavailable", message);
}
