using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hoard.Abstractions.IO;

namespace Hoard.Core.Logs;

/// <summary>One stored object's metadata, kept beside it (what a Swift listing and HEAD report).</summary>
public sealed record StoredObject
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("bytes")]
    public required long Bytes { get; init; }

    /// <summary>MD5 of the content, hex: Swift's ETag.</summary>
    [JsonPropertyName("hash")]
    public required string Hash { get; init; }

    [JsonPropertyName("last_modified")]
    public required DateTimeOffset LastModified { get; init; }

    [JsonPropertyName("content_type")]
    public required string ContentType { get; init; }

    /// <summary>When the object expires (Swift's X-Delete-At); null for never. An expired object reads as absent and is deleted.</summary>
    [JsonPropertyName("delete_at")]
    public DateTimeOffset? DeleteAt { get; init; }

    /// <summary>X-Object-Meta-* values, names lower case without the prefix (e.g. "lines").</summary>
    [JsonPropertyName("meta")]
    public Dictionary<string, string> Meta { get; init; } = [];
}

/// <summary>
/// Where published database log parts live: a small object store laid out as Swift names things (account, container,
/// object), served read-only to clients by the Swift subset of the API. On disk under one root:
/// <c>&lt;account&gt;/&lt;container&gt;/data/&lt;object name&gt;</c> holds the bytes and
/// <c>&lt;account&gt;/&lt;container&gt;/meta/&lt;object name&gt;.json</c> its metadata. Both are written to a temporary file
/// and renamed into place, metadata first, so a listing (which walks data/) never sees half an object or one without
/// metadata.
/// </summary>
public sealed class ObjectStore(string root, TimeProvider time)
{
    private const string DataFolder = "data";
    private const string MetaFolder = "meta";
    private const string MetaSuffix = ".json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>A name Swift and a file system both accept for a container: letters, digits, '.', '_', '-'.</summary>
    public static bool IsContainerName(string name) =>
        name.Length is > 0 and <= 256 && name is not "." and not ".." && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>An object name made of '/'-separated segments, none empty, "." or "..", no control characters.</summary>
    public static bool IsObjectName(string name) =>
        name.Length is > 0 and <= 1024
        && !name.Any(char.IsControl)
        && !name.Contains('\\', StringComparison.Ordinal)
        && name.Split('/').All(segment => segment.Length > 0 && segment is not "." and not "..");

    public bool ContainerExists(string account, string container) =>
        Directory.Exists(Path.Combine(ContainerPath(account, container), DataFolder));

    public IReadOnlyList<string> Containers(string account)
    {
        var path = AccountPath(account);
        return Directory.Exists(path)
            ? [.. Directory.EnumerateDirectories(path).Select(Path.GetFileName).OfType<string>().Where(IsContainerName).Order(StringComparer.Ordinal)]
            : [];
    }

    /// <summary>The container's objects whose names start with <paramref name="prefix"/>, sorted by name; null when there is no such container.</summary>
    public IReadOnlyList<StoredObject>? List(string account, string container, string prefix)
    {
        var data = Path.Combine(ContainerPath(account, container), DataFolder);
        if (!Directory.Exists(data))
        {
            return null;
        }

        var objects = new List<StoredObject>();
        foreach (var file in Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(data, file).Replace(Path.DirectorySeparatorChar, '/');
            if (name.StartsWith(prefix, StringComparison.Ordinal) && IsObjectName(name) && Head(account, container, name) is { } stored)
            {
                objects.Add(stored);
            }
        }

        objects.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return objects;
    }

    /// <summary>The object's metadata, or null when it does not exist.</summary>
    public StoredObject? Head(string account, string container, string name)
    {
        var (data, meta) = ObjectPaths(account, container, name);
        try
        {
            var stored = File.Exists(data) ? JsonSerializer.Deserialize<StoredObject>(File.ReadAllBytes(meta), Json) : null;
            if (stored?.DeleteAt is { } deleteAt && deleteAt <= time.GetUtcNow())
            {
                Delete(account, container, name); // Swift's expirer, done when the object is next looked at
                return null;
            }

            return stored;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null; // being deleted, or never finished
        }
    }

    /// <summary>The object's bytes, or null when it does not exist.</summary>
    public async Task<byte[]?> ReadAsync(string account, string container, string name, CancellationToken cancellationToken)
    {
        var (data, _) = ObjectPaths(account, container, name);
        if (Head(account, container, name) is null)
        {
            return null;
        }

        try
        {
            return await File.ReadAllBytesAsync(data, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>A small object's bytes (a metafile), or null when it does not exist.</summary>
    public byte[]? Read(string account, string container, string name)
    {
        var (data, _) = ObjectPaths(account, container, name);
        if (Head(account, container, name) is null)
        {
            return null;
        }

        try
        {
            return File.ReadAllBytes(data);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Stores an object (replacing one of the same name) atomically.</summary>
    public StoredObject Put(string account, string container, string name, ReadOnlySpan<byte> content, DateTimeOffset modified, DateTimeOffset? deleteAt, string contentType, IReadOnlyDictionary<string, string>? meta = null)
    {
        var (data, metaPath) = ObjectPaths(account, container, name);
        Directory.CreateDirectory(Path.GetDirectoryName(data)!);
        Directory.CreateDirectory(Path.GetDirectoryName(metaPath)!);

#pragma warning disable CA5351 // Swift's ETag is the MD5 of the content; a checksum clients compare, not a security measure.
        var hash = Convert.ToHexStringLower(MD5.HashData(content));
#pragma warning restore CA5351
        var stored = new StoredObject
        {
            Name = name,
            Bytes = content.Length,
            Hash = hash,
            LastModified = modified,
            DeleteAt = deleteAt,
            ContentType = contentType,
            Meta = meta is null ? [] : new Dictionary<string, string>(meta, StringComparer.Ordinal),
        };
        PrivateFile.Write(metaPath, JsonSerializer.SerializeToUtf8Bytes(stored, Json));
        PrivateFile.Write(data, content);
        return stored;
    }

    /// <summary>Deletes an object; false when there was none.</summary>
    public bool Delete(string account, string container, string name)
    {
        var (data, meta) = ObjectPaths(account, container, name);
        var existed = File.Exists(data);
        File.Delete(data);
        File.Delete(meta);
        return existed;
    }

    /// <summary>Deletes every object whose name starts with <paramref name="prefix"/>; returns how many.</summary>
    public int DeletePrefix(string account, string container, string prefix)
    {
        var count = 0;
        foreach (var stored in List(account, container, prefix) ?? [])
        {
            count += Delete(account, container, stored.Name) ? 1 : 0;
        }

        return count;
    }

    /// <summary>Swift's last_modified in listings: UTC, microseconds, no zone.</summary>
    public static string ListingTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    private string AccountPath(string account)
    {
        if (!IsContainerName(account))
        {
            throw new ArgumentException($"'{account}' is not an account name", nameof(account));
        }

        return Path.Combine(Root, account);
    }

    private string ContainerPath(string account, string container) =>
        IsContainerName(container)
            ? Path.Combine(AccountPath(account), container)
            : throw new ArgumentException($"'{container}' is not a container name", nameof(container));

    private (string Data, string Meta) ObjectPaths(string account, string container, string name)
    {
        if (!IsObjectName(name))
        {
            throw new ArgumentException($"'{name}' is not an object name", nameof(name));
        }

        var containerPath = ContainerPath(account, container);
        var relative = name.Replace('/', Path.DirectorySeparatorChar);
        return (Path.Combine(containerPath, DataFolder, relative), Path.Combine(containerPath, MetaFolder, relative + MetaSuffix));
    }
}
