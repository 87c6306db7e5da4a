namespace Hoard.Datastores.Redis.Resp;

internal enum RespKind
{
    SimpleString,
    Error,
    Integer,
    BulkString,
    Array,
    Null,
}

/// <summary>One RESP2 reply. <see cref="Text"/> holds simple strings, errors and bulk strings.</summary>
internal sealed record RespReply(RespKind Kind, string? Text = null, long Integer = 0, IReadOnlyList<RespReply>? Items = null)
{
    public static readonly RespReply Null = new(RespKind.Null);

    public override string ToString() => Kind switch
    {
        RespKind.Integer => Integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        RespKind.Array => $"[{string.Join(", ", Items ?? [])}]",
        RespKind.Null => "(nil)",
        _ => Text ?? string.Empty,
    };
}

/// <summary>An error reply from Redis. The message is Redis' own text, which never echoes our arguments.</summary>
internal sealed class RedisErrorException : Exception
{
    public RedisErrorException(string message)
        : base(message)
    {
        var space = message.IndexOf(' ', StringComparison.Ordinal);
        Code = space < 0 ? message : message[..space];
    }

    /// <summary>The error's first word: ERR, NOAUTH, WRONGPASS, LOADING, ...</summary>
    public string Code { get; }
}

/// <summary>The peer sent something that is not RESP2, or more than this client accepts.</summary>
internal sealed class RespProtocolException(string message) : IOException(message);
