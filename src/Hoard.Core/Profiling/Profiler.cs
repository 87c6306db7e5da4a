using System.Diagnostics;
using System.Threading.Channels;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Configuration;
using Microsoft.Extensions.Logging;

namespace Hoard.Core.Profiling;

/// <summary>
/// The control plane's half of tracing: samples only activities whose trace was asked for (a signed trace header
/// started it), turns each finished one into a trace point, and hands points to a background writer through a
/// bounded buffer. A full buffer drops the point and counts it, so a slow or dead trace backend never holds up a request.
/// </summary>
public sealed partial class Profiler : IAsyncDisposable
{
    /// <summary>Most points written to the backend in one call.</summary>
    private const int BatchSize = 512;

    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(10);

    private readonly Channel<TracePoint> _buffer;
    private readonly ActivityListener _listener;
    private readonly ITraceDriver _driver;
    private readonly ILogger<Profiler> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _writer;
    private long _dropped;
    private long _written;
    private int _failing;
    private int _disposed;

    public Profiler(ProfilerOptions options, ITraceDriver driver, ILogger<Profiler> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _driver = driver;
        _logger = logger;
        _buffer = Channel.CreateBounded<TracePoint>(new BoundedChannelOptions(options.BufferSize)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once instead of waiting, and the drop is counted
            SingleReader = true,
        });
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == HoardTracing.SourceName || (options.TraceStore && s.Name == HoardTracing.StoreSourceName),
            Sample = static (ref ActivityCreationOptions<ActivityContext> o) =>
                o.Parent.TraceId != default && o.Parent.TraceFlags.HasFlag(ActivityTraceFlags.Recorded)
                    ? ActivitySamplingResult.AllDataAndRecorded
                    : ActivitySamplingResult.None,
            ActivityStopped = a => Submit(TracePoint.From(a, ServiceOf(a))),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public ProfilerOptions Options { get; }

    /// <summary>The HMAC keys a trace header may be signed with.</summary>
    public IReadOnlyList<string> HmacKeys => Options.HmacKeys;

    /// <summary>Points lost because the buffer was full or the backend refused them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Points the backend accepted.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queues a finished point (this process's, or one a guest agent sent back with its reply).</summary>
    public void Submit(TracePoint point)
    {
        if (!_buffer.Writer.TryWrite(point))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Starts the background writer.</summary>
    public void Start() => _writer ??= Task.Run(() => WriteLoopAsync(_stopping.Token));

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        var batch = new List<TracePoint>(BatchSize);
        var reader = _buffer.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (batch.Count < BatchSize && reader.TryRead(out var point))
                {
                    batch.Add(point);
                }

                await WriteAsync(batch, cancellationToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: DisposeAsync flushes what is left.
        }
    }

    private async Task WriteAsync(List<TracePoint> batch, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(WriteTimeout);
            await _driver.WriteAsync(batch, timeout.Token);
            Interlocked.Add(ref _written, batch.Count);
            if (Interlocked.Exchange(ref _failing, 0) == 1)
            {
                LogBackendBack();
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Add(ref _dropped, batch.Count);
            if (Interlocked.Exchange(ref _failing, 1) == 0)
            {
                LogBackendFailed(batch.Count, e.GetType().Name, e.Message);
            }
        }
    }

    /// <summary>The component a point belongs to, OSProfiler's <c>service</c>: what the work in this process hangs from.</summary>
    private static string ServiceOf(Activity activity)
    {
        var root = activity;
        for (var depth = 0; root.Parent is { } parent && depth < 64; depth++)
        {
            root = parent;
        }

        return root.OperationName == HoardTracing.Names.Task ? "taskmanager" : "api";
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return; // at shutdown, and again when the container is disposed
        }

        _listener.Dispose();
        _buffer.Writer.TryComplete();
        await _stopping.CancelAsync();
        if (_writer is not null)
        {
            await _writer.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        // Flush what the buffer still holds, bounded: a dead backend must not hold up shutdown.
        var rest = new List<TracePoint>();
        while (_buffer.Reader.TryRead(out var point))
        {
            rest.Add(point);
        }

        if (rest.Count > 0)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _driver.WriteAsync(rest, timeout.Token);
            }
            catch (Exception)
            {
                // Shutting down; the points are lost as any dropped ones.
            }
        }

        await _driver.DisposeAsync();
        _stopping.Dispose();
    }

    [LoggerMessage(2200, LogLevel.Warning, "The trace backend refused {Count} trace points ({Error}: {Message}); points are dropped until it recovers")]
    private partial void LogBackendFailed(int count, string error, string message);

    [LoggerMessage(2201, LogLevel.Information, "The trace backend accepts trace points again")]
    private partial void LogBackendBack();
}
