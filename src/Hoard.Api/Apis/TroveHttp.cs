using System.Text.Json;
using System.Text.Json.Nodes;
using Hoard.Core;
using Hoard.Core.Identity;
using Microsoft.AspNetCore.Http;

namespace Hoard.Api.Apis;

/// <summary>Request and response plumbing shared by the Trove routes: errors, bodies, the caller.</summary>
public static class TroveHttp
{
    public const string AuthContextKey = "hoard.auth";
    public const int MaxBodyBytes = 1024 * 1024;

    public static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32 };

    public static IResult Error(ApiException e) =>
        Results.Json(new Dictionary<string, object> { [e.Fault] = new { code = e.Status, message = e.Message } }, Json, statusCode: e.Status);

    public static IResult Error(int status, string fault, string message) => Error(new ApiException(status, fault, message));

    /// <summary>The Trove error for an exception that means "no" rather than "broken"; null for anything else.</summary>
    public static IResult? Refusal(Exception error) => error switch
    {
        ApiException api => Error(api),
        BadHttpRequestException bad => Error(bad.StatusCode, bad.StatusCode == 413 ? "overLimit" : "badRequest", bad.Message),
        Hoard.Core.Guests.GuestCallException guest => Error(422, "unprocessableEntity", $"The guest could not complete the request: {guest.Message}"),
        _ => null,
    };

    /// <summary>The caller, set by the authentication filter of the /v1.0/{tenant} group.</summary>
    public static AuthContext Caller(this HttpContext http) => (AuthContext)http.Items[AuthContextKey]!;

    /// <summary>
    /// Reads the body as a JSON object. A body that is not JSON, too deep, too large or not an object is
    /// a 400 naming the problem (Trove answers some of these with a 500); a body sent as anything but
    /// <c>application/json</c> (any parameters, such as a charset) is Trove's 415 naming the media type sent.
    /// </summary>
    public static Task<JsonObject> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken) =>
        ReadObjectAsync(request, requireJsonMediaType: true, cancellationToken);

    /// <summary>
    /// As <see cref="ReadObjectAsync(HttpRequest, CancellationToken)"/>; with <paramref name="requireJsonMediaType"/>
    /// false the Content-Type is not looked at (the identity routes, which follow Keystone's rules, not Trove's).
    /// </summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpRequest request, bool requireJsonMediaType, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength is > MaxBodyBytes)
        {
            throw new ApiException(413, "overLimit", $"Request body is larger than {MaxBodyBytes} bytes.");
        }

        using var buffer = new MemoryStream();
        try
        {
            await request.Body.CopyToAsync(buffer, cancellationToken);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == 413)
        {
            throw new ApiException(413, "overLimit", $"Request body is larger than {MaxBodyBytes} bytes.");
        }

        if (buffer.Length == 0)
        {
            throw ApiException.BadRequest("Malformed request body: the body is empty; a JSON object is expected.");
        }

        if (requireJsonMediaType)
        {
            RequireJsonMediaType(request);
        }

        // The parser checks UTF-8 only when a string is read, which is later, in code that cannot tell a bad body
        // from a bug (a 500): bytes that are not UTF-8 are refused here, with where they start.
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw ApiException.BadRequest($"Malformed request body: the body is not valid UTF-8 (from byte {FirstInvalidUtf8(bytes)}).");
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(bytes, documentOptions: DocumentOptions);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"Malformed request body: {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest($"Malformed request body: {e.Message}");
        }

        return node as JsonObject ?? throw ApiException.BadRequest("Malformed request body: a JSON object is expected.");
    }

    /// <summary>
    /// Trove reads a body only as the media type its Content-Type names, and answers anything but JSON (text/plain, a
    /// form, none at all) with 415 "The request media type … is not supported by this server." — checked only when
    /// there is a body, as Trove does. Its XML deserializer is gone in all but name (an XML body is its 500): here XML is
    /// a 415 too. Media types are compared without case (RFC 9110); parameters, such as a charset, are not looked at.
    /// </summary>
    private static void RequireJsonMediaType(HttpRequest request)
    {
        var sent = request.ContentType;
        if (string.IsNullOrWhiteSpace(sent))
        {
            throw ApiException.UnsupportedMediaType("The request has a body but no Content-Type; this server supports only application/json.");
        }

        var mediaType = sent.Split(';', 2)[0].Trim();
        if (!mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            var named = sent.Length > 100 ? sent[..100] + "..." : sent;
            throw ApiException.UnsupportedMediaType($"The request media type {named} is not supported by this server.");
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var status = System.Text.Unicode.Utf8.ToUtf16(bytes, new char[bytes.Length], out var read, out _, replaceInvalidSequences: false);
        return status == System.Buffers.OperationStatus.Done ? bytes.Length : read;
    }

    /// <summary>Reads an optional body: empty means an empty object (root enable, for one, takes none).</summary>
    public static async Task<JsonObject> ReadOptionalObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength is 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count == 0))
        {
            return [];
        }

        return await ReadObjectAsync(request, cancellationToken);
    }

    /// <summary>The limit query parameter of a list: absent, or a positive integer (Trove answers a bad one with a 500).</summary>
    public static int? ParseLimit(string? limit)
    {
        if (limit is null)
        {
            return null;
        }

        return int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed) && parsed >= 1
            ? parsed
            : throw ApiException.BadRequest($"limit '{(limit.Length > 20 ? limit[..20] + "..." : limit)}' is not a positive integer.");
    }

    /// <summary>Trove's timestamp format: UTC, seconds, no zone.</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
}
