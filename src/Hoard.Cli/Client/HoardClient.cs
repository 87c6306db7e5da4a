using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hoard.Cli.Client;

/// <summary>An error answer from Hoard, with the message it gave.</summary>
public sealed class HoardApiException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}

/// <summary>Talks to Hoard's API as the stock clients do: a Keystone token, then the catalog's database endpoint.</summary>
public sealed class HoardClient : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private string? _endpoint;
    private string? _objectStore;

    public static async Task<HoardClient> ConnectAsync(ClientSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var client = new HoardClient();
        var body = new
        {
            auth = new
            {
                identity = new { methods = new[] { "password" }, password = new { user = new { name = settings.UserName, domain = new { name = "Default" }, password = settings.Password } } },
                scope = new { project = new { name = settings.ProjectName, domain = new { name = "Default" } } },
            },
        };
        using var response = await client._http.PostAsJsonAsync(settings.AuthUrl + "/auth/tokens", body, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            client.Dispose();
            throw new HoardApiException(response.StatusCode, $"authentication at {settings.AuthUrl} failed ({(int)response.StatusCode})");
        }

        var token = response.Headers.GetValues("X-Subject-Token").First();
        var json = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
        client._endpoint = json?["token"]?["catalog"]?.AsArray()
            .FirstOrDefault(s => s?["type"]?.GetValue<string>() == "database")?["endpoints"]?.AsArray()
            .FirstOrDefault(e => e?["interface"]?.GetValue<string>() == "public")?["url"]?.GetValue<string>()
            ?? throw new HoardApiException(HttpStatusCode.NotFound, "the token's catalog has no database endpoint");
        client._objectStore = json?["token"]?["catalog"]?.AsArray()
            .FirstOrDefault(s => s?["type"]?.GetValue<string>() == "object-store")?["endpoints"]?.AsArray()
            .FirstOrDefault(e => e?["interface"]?.GetValue<string>() == "public")?["url"]?.GetValue<string>();
        client._http.DefaultRequestHeaders.Add("X-Auth-Token", token);
        return client;
    }

    public async Task<JsonObject?> SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, _endpoint + path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await _http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HoardApiException(response.StatusCode, ErrorMessage(text) ?? $"{(int)response.StatusCode} {response.ReasonPhrase}");
        }

        return text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject;
    }

    /// <summary>GET from the object store (published database logs): a listing's JSON, or an object's bytes.</summary>
    public async Task<byte[]> GetObjectStoreAsync(string path, CancellationToken cancellationToken)
    {
        if (_objectStore is null)
        {
            throw new HoardApiException(HttpStatusCode.NotFound, "the token's catalog has no object-store endpoint");
        }

        using var response = await _http.GetAsync(_objectStore + path, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return response.IsSuccessStatusCode
            ? bytes
            : throw new HoardApiException(response.StatusCode, $"object store: {(int)response.StatusCode} {response.ReasonPhrase}");
    }

    public Task<JsonObject?> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    /// <summary>Finds an instance by id or, failing that, by name (as the openstack client does).</summary>
    public Task<JsonObject> FindInstanceAsync(string idOrName, CancellationToken cancellationToken) =>
        FindAsync("instances", "instance", idOrName, cancellationToken);

    /// <summary>Finds a cluster by id or, failing that, by name.</summary>
    public Task<JsonObject> FindClusterAsync(string idOrName, CancellationToken cancellationToken) =>
        FindAsync("clusters", "cluster", idOrName, cancellationToken);

    /// <summary>Every cluster of the project.</summary>
    public Task<List<JsonObject>> ListClustersAsync(CancellationToken cancellationToken) => ListAllAsync("/clusters", "clusters", cancellationToken);

    private async Task<JsonObject> FindAsync(string collection, string kind, string idOrName, CancellationToken cancellationToken)
    {
        try
        {
            return (await GetAsync($"/{collection}/{Uri.EscapeDataString(idOrName)}", cancellationToken))![kind]!.AsObject();
        }
        catch (HoardApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
            var matches = (await ListAllAsync($"/{collection}", collection, cancellationToken)).Where(i => i["name"]?.GetValue<string>() == idOrName).ToList();
            return matches.Count switch
            {
                1 => (await GetAsync($"/{collection}/{matches[0]["id"]}", cancellationToken))![kind]!.AsObject(),
                0 => throw new HoardApiException(HttpStatusCode.NotFound, $"no {kind} with id or name '{idOrName}'"),
                _ => throw new HoardApiException(HttpStatusCode.Conflict, $"{matches.Count} {collection} are named '{idOrName}'; use the id"),
            };
        }
    }

    /// <summary>The name of a datastore's default version (else its first active one), for calls that require a version.</summary>
    public async Task<string> DefaultDatastoreVersionAsync(string datastore, CancellationToken cancellationToken)
    {
        var found = (await GetAsync($"/datastores/{Uri.EscapeDataString(datastore)}", cancellationToken))!["datastore"]!;
        var versions = found["versions"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
        var chosen = versions.FirstOrDefault(v => v["id"]?.GetValue<string>() == found["default_version"]?.GetValue<string>()) ?? versions.FirstOrDefault();
        return chosen?["name"]?.GetValue<string>()
            ?? throw new HoardApiException(HttpStatusCode.NotFound, $"datastore {datastore} has no active version");
    }

    /// <summary>Every instance of the project, following the API's next links page by page.</summary>
    public Task<List<JsonObject>> ListInstancesAsync(CancellationToken cancellationToken) => ListAllAsync("/instances", "instances", cancellationToken);

    /// <summary>Every item of a paged Trove list (instances, databases, users), following the next links.</summary>
    public async Task<List<JsonObject>> ListAllAsync(string path, string key, CancellationToken cancellationToken)
    {
        var all = new List<JsonObject>();
        string? marker = null;
        do
        {
            var page = await GetAsync(path + (marker is null ? string.Empty : $"{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}marker={marker}"), cancellationToken);
            all.AddRange(page![key]!.AsArray().OfType<JsonObject>());
            marker = page["links"]?.AsArray().FirstOrDefault(l => l?["rel"]?.GetValue<string>() == "next") is { } next
                ? new Uri(next["href"]!.GetValue<string>()).Query.Split("marker=")[1].Split('&')[0]
                : null;
        }
        while (marker is not null);

        return all;
    }

    private static string? ErrorMessage(string text)
    {
        try
        {
            var json = JsonNode.Parse(text) as JsonObject;
            var inner = json?.FirstOrDefault().Value as JsonObject;
            return inner?["message"]?.GetValue<string>() ?? json?["message"]?.GetValue<string>();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Dispose() => _http.Dispose();
}
