using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Hoard.Testing;

/// <summary>Keeps every log line with its event id, exceptions included, so tests can check what reaches the logs.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<(int EventId, string Line)> _lines = new();

    public IReadOnlyCollection<(int EventId, string Line)> Lines => _lines;

    public int Count(int eventId) => _lines.Count(l => l.EventId == eventId);

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(_lines);

    public void Dispose()
    {
    }

    private sealed class CapturingLogger(ConcurrentQueue<(int EventId, string Line)> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue((eventId.Id, $"{logLevel} {eventId.Id} {formatter(state, exception)} {exception}"));
    }
}
