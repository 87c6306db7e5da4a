using System.Globalization;
using System.Text;
using System.Text.Json;
using Hoard.Core.Identity;
using Hoard.Core.Logs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Hoard.Api.Apis;

/// <summary>
/// The read-only subset of OpenStack Swift's object API that python-swiftclient needs to read published database
/// logs (what `openstack database log tail|save` do): account and container listings, object HEAD and GET, at
/// /swift/v1/AUTH_&lt;project id&gt;, the object-store entry of the token's catalog. Tokens are checked as on the
/// Trove routes; a token of another project gets Swift's 403, a missing or bad one its 401. Writes are the control
/// plane's alone (a publish), so PUT, POST and DELETE answer 405.
/// </summary>
public static class ObjectStoreApi
{
    public const string Root = "/swift/v1";

    public static IEndpointRouteBuilder MapObjectStoreApi(this IEndpointRouteBuilder app)
    {
        var swift = app.MapGroup(Root + "/{account}").AddEndpointFilter(AuthorizeAsync);
        swift.MapMethods(string.Empty, ["GET", "HEAD"], (HttpContext http, string account, ObjectStore store) => Account(http, account, store));
        swift.MapMethods("/{container}", ["GET", "HEAD"], (HttpContext http, string account, string container, string? prefix, string? marker, string? limit, ObjectStore store) =>
            Container(http, account, container, prefix, marker, limit, store));
        swift.MapMethods("/{container}/{**name}", ["GET", "HEAD"], (HttpContext http, string account, string container, string name, ObjectStore store, CancellationToken ct) =>
            ObjectAsync(http, account, container, name, store, ct));
        swift.MapMethods("/{**rest}", ["PUT", "POST", "DELETE", "COPY"], () =>
            Text(405, "<html><h1>Method Not Allowed</h1><p>The object store is read-only; logs are published with openstack database log set --publish.</p></html>"));
        return app;
    }

    private static async ValueTask<object?> AuthorizeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var identity = http.RequestServices.GetService(typeof(IdentityService)) as IdentityService;
        var caller = identity is null ? null : await identity.ValidateAsync(http.Request.Headers["X-Auth-Token"].ToString(), http.RequestAborted);
        if (caller is null)
        {
            return Text(401, "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>");
        }

        if (http.Request.RouteValues["account"] as string != GuestLogService.Account(caller.ProjectId))
        {
            return Text(403, "<html><h1>Forbidden</h1><p>Access was denied to this resource.</p></html>");
        }

        return await next(context);
    }

    private static IResult Account(HttpContext http, string account, ObjectStore store)
    {
        var containers = store.Containers(account)
            .Select(c => (Name: c, Objects: store.List(account, c, string.Empty) ?? []))
            .ToList();
        var headers = http.Response.Headers;
        headers["X-Account-Container-Count"] = containers.Count.ToString(CultureInfo.InvariantCulture);
        headers["X-Account-Object-Count"] = containers.Sum(c => c.Objects.Count).ToString(CultureInfo.InvariantCulture);
        headers["X-Account-Bytes-Used"] = containers.Sum(c => c.Objects.Sum(o => o.Bytes)).ToString(CultureInfo.InvariantCulture);
        headers["X-Timestamp"] = Timestamp(DateTimeOffset.UtcNow);
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return Results.NoContent();
        }

        return Listing(http, containers.Select(c => (object)new { name = c.Name, count = c.Objects.Count, bytes = c.Objects.Sum(o => o.Bytes) }), containers.Select(c => c.Name));
    }

    private static IResult Container(HttpContext http, string account, string container, string? prefix, string? marker, string? limit, ObjectStore store)
    {
        // One read of the container: its totals for the headers, the listing filtered from it.
        if (!ObjectStore.IsContainerName(container) || store.List(account, container, string.Empty) is not { } whole)
        {
            return NotFound();
        }

        var all = prefix is { Length: > 0 } ? whole.Where(o => o.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList() : whole;
        var headers = http.Response.Headers;
        headers["X-Container-Object-Count"] = whole.Count.ToString(CultureInfo.InvariantCulture);
        headers["X-Container-Bytes-Used"] = whole.Sum(o => o.Bytes).ToString(CultureInfo.InvariantCulture);
        headers["X-Timestamp"] = Timestamp(DateTimeOffset.UtcNow);
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return Results.NoContent();
        }

        // Swift pages at 10,000 names: strictly after the marker, at most limit of them.
        var count = int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed is > 0 and <= 10_000 ? parsed : 10_000;
        var page = all.Where(o => marker is null || string.CompareOrdinal(o.Name, marker) > 0).Take(count).ToList();
        return Listing(
            http,
            page.Select(o => (object)new { name = o.Name, bytes = o.Bytes, hash = o.Hash, last_modified = ObjectStore.ListingTime(o.LastModified), content_type = o.ContentType }),
            page.Select(o => o.Name));
    }

    private static async Task<IResult> ObjectAsync(HttpContext http, string account, string container, string name, ObjectStore store, CancellationToken ct)
    {
        if (!ObjectStore.IsContainerName(container) || !ObjectStore.IsObjectName(name) || store.Head(account, container, name) is not { } stored)
        {
            return NotFound();
        }

        var headers = http.Response.Headers;
        headers.ETag = stored.Hash;
        headers.LastModified = stored.LastModified.ToString("R", CultureInfo.InvariantCulture);
        headers["X-Timestamp"] = Timestamp(stored.LastModified);
        if (stored.DeleteAt is { } deleteAt)
        {
            headers["X-Delete-At"] = deleteAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        foreach (var (key, value) in stored.Meta)
        {
            headers["X-Object-Meta-" + key] = value;
        }

        if (HttpMethods.IsHead(http.Request.Method))
        {
            headers.ContentLength = stored.Bytes;
            headers.ContentType = stored.ContentType;
            return Results.Empty;
        }

        var bytes = await store.ReadAsync(account, container, name, ct);
        return bytes is null ? NotFound() : Results.Bytes(bytes, stored.ContentType);
    }

    /// <summary>A listing as JSON with ?format=json (what swiftclient asks for), else one name a line, as Swift does.</summary>
    private static IResult Listing(HttpContext http, IEnumerable<object> items, IEnumerable<string> names)
    {
        if (string.Equals(http.Request.Query["format"], "json", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Json(items.ToList(), JsonOptions, "application/json; charset=utf-8");
        }

        var text = string.Concat(names.Select(n => n + "\n"));
        return text.Length == 0 ? Results.NoContent() : Results.Text(text, "text/plain; charset=utf-8", Encoding.UTF8);
    }

    private static readonly JsonSerializerOptions JsonOptions = new();

    private static IResult NotFound() => Text(404, "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>");

    private static IResult Text(int status, string html) => Results.Text(html, "text/html; charset=UTF-8", Encoding.UTF8, status);

    private static string Timestamp(DateTimeOffset t) => (t.ToUnixTimeMilliseconds() / 1000.0).ToString("F5", CultureInfo.InvariantCulture);
}
