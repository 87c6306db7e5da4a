namespace Hoard.Abstractions.Tracing;

/// <summary>
/// A trace backend chosen by connection string (<c>redis://</c>, …): it stores trace points and reads them back as
/// one tree. Writes come from one background writer, never from a request.
/// </summary>
public interface ITraceDriver : IAsyncDisposable
{
    /// <summary>Stores finished points; throws when the backend cannot take them (the writer counts them dropped).</summary>
    Task WriteAsync(IReadOnlyList<TracePoint> points, CancellationToken cancellationToken);

    /// <summary>One trace as a tree, or null when the backend has no point of it.</summary>
    Task<TraceTree?> GetTraceAsync(string baseId, CancellationToken cancellationToken);

    /// <summary>Every trace the backend holds, oldest first.</summary>
    Task<IReadOnlyList<TraceSummary>> ListTracesAsync(CancellationToken cancellationToken);

    /// <summary>The traces with at least one failed point, oldest first.</summary>
    Task<IReadOnlyList<TraceSummary>> ListErrorTracesAsync(CancellationToken cancellationToken);
}

/// <summary>Opens a driver for a connection string of its scheme; the plugin's name is the scheme.</summary>
public interface ITraceDriverFactory
{
    /// <summary>Parses <paramref name="connectionString"/>; a bad one is an <see cref="ArgumentException"/> (no connection is made yet).</summary>
    ITraceDriver Open(Uri connectionString);
}

/// <summary>A trace in a listing: its id and when it started.</summary>
public sealed record TraceSummary(string BaseId, DateTime Timestamp);
