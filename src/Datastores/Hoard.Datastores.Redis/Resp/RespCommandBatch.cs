using System.Buffers;
using System.Globalization;
using System.Text;

namespace Hoard.Datastores.Redis.Resp;

/// <summary>
/// Commands encoded back to back, sent in one write and answered in order: a pipeline. Slot moves send
/// hundreds of CLUSTER SETSLOT, GETKEYSINSLOT and MIGRATE commands; one round trip for a batch of them
/// instead of one each is most of their speed, and lets Redis save its cluster config once per batch.
/// </summary>
/// <remarks>Arguments are strings (UTF-8) or raw bytes, so key names go back exactly as Redis gave them.</remarks>
internal sealed class RespCommandBatch
{
    private readonly ArrayBufferWriter<byte> _writer;

    public RespCommandBatch(int initialCapacity = 1024) => _writer = new ArrayBufferWriter<byte>(initialCapacity);

    /// <summary>How many commands the batch holds (and so how many replies it gets).</summary>
    public int Count { get; private set; }

    public ReadOnlyMemory<byte> Encoded => _writer.WrittenMemory;

    public RespCommandBatch Add(IReadOnlyList<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        return Add(arguments, []);
    }

    /// <summary>A command of <paramref name="head"/> strings followed by raw <paramref name="tail"/> arguments (key names).</summary>
    public RespCommandBatch Add(IReadOnlyList<string> head, IReadOnlyList<byte[]> tail)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(tail);
        WriteHeader('*', head.Count + tail.Count);
        foreach (var argument in head)
        {
            WriteHeader('$', Encoding.UTF8.GetByteCount(argument));
            Encoding.UTF8.GetBytes(argument, _writer);
            _writer.Write("\r\n"u8);
        }

        foreach (var argument in tail)
        {
            WriteHeader('$', argument.Length);
            _writer.Write(argument);
            _writer.Write("\r\n"u8);
        }

        Count++;
        return this;
    }

    /// <summary>Empties the batch for reuse; the bytes are zeroed, since a command may have carried a password.</summary>
    public void Clear()
    {
        _writer.Clear();
        Count = 0;
    }

    private void WriteHeader(char prefix, int value)
    {
        var span = _writer.GetSpan(16);
        span[0] = (byte)prefix;
        value.TryFormat(span[1..], out var written, provider: CultureInfo.InvariantCulture);
        span[written + 1] = (byte)'\r';
        span[written + 2] = (byte)'\n';
        _writer.Advance(written + 3);
    }
}
