using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Hoard.Cli.Tests;

/// <summary>
/// Searches bytes for any of a set of secrets, each in the encodings a store, a log or a trace could put it in:
/// the UTF-8 bytes, JSON-escaped (the default and the relaxed encoder), base64 and base64url at each of the three
/// byte alignments, UTF-16, percent-encoded and hex; keys as their raw bytes, hex and base64. One pass per buffer (a multi-string search over the bytes read
/// as Latin-1, one char a byte), so a scan of a few hundred megabytes takes seconds.
/// </summary>
internal sealed class SecretScan
{
    private readonly List<(string Secret, string Encoding, string Needle)> _needles = [];
    private readonly SearchValues<string> _any;
    private readonly List<string> _hits = [];

    /// <param name="secrets">Text secrets (passwords, tokens).</param>
    /// <param name="keys">Binary secrets (keys), searched for as raw bytes, hex and base64.</param>
    public SecretScan(IReadOnlyDictionary<string, string> secrets, IReadOnlyDictionary<string, byte[]>? keys = null)
    {
        ArgumentNullException.ThrowIfNull(secrets);
        foreach (var (what, secret) in secrets)
        {
            Add(what, Encodings(secret));
        }

        foreach (var (what, key) in keys ?? new Dictionary<string, byte[]>())
        {
            Add(what, [("raw", key), .. ByteEncodings(key)]);
        }

        _any = SearchValues.Create([.. _needles.Select(n => n.Needle).Distinct()], StringComparison.Ordinal);
    }

    public int Needles => _needles.Count;

    private void Add(string what, IEnumerable<(string Encoding, byte[] Bytes)> encodings)
    {
        foreach (var (encoding, bytes) in encodings)
        {
            var needle = Encoding.Latin1.GetString(bytes);
            if (!_needles.Any(n => n.Secret == what && n.Needle == needle))
            {
                _needles.Add((what, encoding, needle));
            }
        }
    }

    public long Files { get; private set; }

    public long Bytes { get; private set; }

    public IReadOnlyList<string> Hits => _hits;

    /// <summary>Searches one buffer, <paramref name="where"/> naming it in a hit.</summary>
    public void Search(string where, ReadOnlySpan<byte> bytes)
    {
        Bytes += bytes.Length;
        var text = Encoding.Latin1.GetString(bytes).AsSpan();
        var at = 0;
        while (at < text.Length)
        {
            var found = text[at..].IndexOfAny(_any);
            if (found < 0)
            {
                break;
            }

            at += found;
            foreach (var (secret, encoding, needle) in _needles)
            {
                if (text[at..].StartsWith(needle, StringComparison.Ordinal))
                {
                    _hits.Add($"{secret} ({encoding}) in {where} at byte {at}");
                }
            }

            at++;
        }
    }

    /// <summary>Every regular file under <paramref name="root"/> but those <paramref name="skip"/> names (links are not followed).</summary>
    public async Task DirectoryAsync(string root, string label, Func<string, bool>? skip = null)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = 0 };
        foreach (var file in Directory.EnumerateFiles(root, "*", options))
        {
            if (skip?.Invoke(file) == true || new FileInfo(file).LinkTarget is not null)
            {
                continue;
            }

            byte[] bytes;
            try
            {
                bytes = await File.ReadAllBytesAsync(file);
            }
            catch (IOException)
            {
                continue; // a socket, or a file removed meanwhile
            }

            Files++;
            Search($"{label}/{Path.GetRelativePath(root, file)}", bytes);
        }
    }

    private static IEnumerable<(string Encoding, byte[] Bytes)> Encodings(string secret)
    {
        var utf8 = Encoding.UTF8.GetBytes(secret);
        yield return ("UTF-8", utf8);
        yield return ("JSON-escaped", Encoding.UTF8.GetBytes(JsonSerializer.Serialize(secret)[1..^1]));
        yield return ("JSON-escaped, relaxed", Encoding.UTF8.GetBytes(JsonSerializer.Serialize(secret, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping })[1..^1]));
        yield return ("UTF-16", Encoding.Unicode.GetBytes(secret));
        yield return ("percent-encoded", Encoding.ASCII.GetBytes(Uri.EscapeDataString(secret)));
        foreach (var encoded in ByteEncodings(utf8))
        {
            yield return encoded;
        }
    }

    private static IEnumerable<(string Encoding, byte[] Bytes)> ByteEncodings(byte[] utf8)
    {
        yield return ("hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(utf8)));
        yield return ("HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(utf8)));

        // Inside a longer base64 text the secret starts at one of three offsets in a 3-byte group; the groups wholly
        // inside it encode the same way whatever surrounds them.
        for (var skip = 0; skip < 3; skip++)
        {
            var whole = utf8.AsSpan(skip, (utf8.Length - skip) / 3 * 3);
            var base64 = Convert.ToBase64String(whole);
            yield return ($"base64+{skip}", Encoding.ASCII.GetBytes(base64));
            yield return ($"base64url+{skip}", Encoding.ASCII.GetBytes(base64.Replace('+', '-').Replace('/', '_')));
        }
    }
}
