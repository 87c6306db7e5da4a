using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Hoard.Core.Profiling;

/// <summary>
/// OSProfiler's trace trigger, as <c>openstack --os-profile KEY</c> and <c>trove --profile KEY</c> send it:
/// <c>X-Trace-Info</c> is URL-safe base64 of a JSON object {base_id, parent_id}, and <c>X-Trace-HMAC</c> the
/// lowercase hex HMAC-SHA1 of that base64 text under the key. The header carries no time, so there is nothing to
/// expire: a replayed header only adds points to the trace it names.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "HMAC-SHA1 is OSProfiler's header format, which the stock clients send; HMAC keeps it sound where bare SHA-1 is not.")]
public sealed record TraceHeader(string BaseId, string ParentId)
{
    public const string InfoHeader = "X-Trace-Info";
    public const string HmacHeader = "X-Trace-HMAC";

    /// <summary>Longest X-Trace-Info looked at; a real one is about 150 bytes.</summary>
    private const int MaxInfoLength = 4096;

    /// <summary>
    /// The trace a request asks for, or null when the header is missing, malformed, or signed with none of
    /// <paramref name="hmacKeys"/>: such a request is served as any other, untraced.
    /// </summary>
    public static TraceHeader? Verify(string? info, string? hmac, IReadOnlyList<string> hmacKeys)
    {
        ArgumentNullException.ThrowIfNull(hmacKeys);
        if (string.IsNullOrEmpty(info) || info.Length > MaxInfoLength || string.IsNullOrWhiteSpace(hmac) || hmacKeys.Count == 0)
        {
            return null;
        }

        var given = ParseHex(hmac.Trim());
        if (given is not { Length: 20 })
        {
            return null;
        }

        var data = Encoding.UTF8.GetBytes(info);
        var signed = false;
        foreach (var key in hmacKeys)
        {
            // Every key is tried whatever the outcome, so timing does not tell which key matched.
            signed |= CryptographicOperations.FixedTimeEquals(HMACSHA1.HashData(Encoding.UTF8.GetBytes(key), data), given);
        }

        return signed ? Parse(info) : null;
    }

    /// <summary>Signs a trace the way OSProfiler's client does (for tests and for Hoard's own client calls).</summary>
    public static (string Info, string Hmac) Sign(string baseId, string parentId, string hmacKey)
    {
        // Python's json.dumps separators (", " and ": "), so the header is byte for byte what OSProfiler sends.
        var json = $"{{\"base_id\": {JsonSerializer.Serialize(baseId)}, \"parent_id\": {JsonSerializer.Serialize(parentId)}}}";
        var info = Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).Replace('+', '-').Replace('/', '_');
        return (info, Convert.ToHexStringLower(HMACSHA1.HashData(Encoding.UTF8.GetBytes(hmacKey), Encoding.UTF8.GetBytes(info))));
    }

    private static TraceHeader? Parse(string info)
    {
        try
        {
            var b64 = info.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
            using var doc = JsonDocument.Parse(Convert.FromBase64String(b64));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            string? baseId = null, parentId = null;
            foreach (var p in root.EnumerateObject())
            {
                // OSProfiler's middleware accepts exactly these keys; anything else makes the header invalid.
                switch (p.Name)
                {
                    case "base_id" when p.Value.ValueKind == JsonValueKind.String:
                        baseId = p.Value.GetString();
                        break;
                    case "parent_id" when p.Value.ValueKind == JsonValueKind.String:
                        parentId = p.Value.GetString();
                        break;
                    case "parent_id" when p.Value.ValueKind == JsonValueKind.Null:
                        break;
                    default:
                        return null;
                }
            }

            // The base id becomes the W3C trace id, so it has to be a UUID as OSProfiler makes them.
            return baseId is not null && Guid.TryParseExact(baseId, "D", out _) && (parentId is null || parentId.Length <= 64)
                ? new TraceHeader(baseId.ToLowerInvariant(), parentId ?? baseId.ToLowerInvariant())
                : null;
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return null;
        }
    }

    private static byte[]? ParseHex(string hex)
    {
        try
        {
            return hex.Length == 40 ? Convert.FromHexString(hex) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
