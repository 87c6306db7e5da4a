using System.Diagnostics;

namespace Hoard.Abstractions.Tracing;

/// <summary>
/// The activity sources every Hoard component traces with. An activity is only created for a request that was
/// asked to be profiled (an HMAC-signed trace header), so with profiling off or a request not sampled a trace point
/// costs one listener check.
/// </summary>
public static class HoardTracing
{
    /// <summary>HTTP requests, tasks, guest calls, agent work and datastore commands.</summary>
    public const string SourceName = "Hoard";

    /// <summary>Management-store calls, listened to only when <c>[profiler] trace_store</c> is on.</summary>
    public const string StoreSourceName = "Hoard.Store";

    public static readonly ActivitySource Source = new(SourceName);

    public static readonly ActivitySource Store = new(StoreSourceName);

    /// <summary>
    /// The trace point names, as OSProfiler's tools group them (the part before the first '-' is the category, so
    /// names never contain one).
    /// </summary>
    public static class Names
    {
        public const string Http = "wsgi";
        public const string Task = "task";
        public const string TaskStep = "step";
        public const string GuestCall = "rpc";
        public const string GuestWork = "guest";
        public const string DatastoreCommand = "datastore";
        public const string StoreCall = "db";
    }

    /// <summary>
    /// Custom property on a request's root activity: the OSProfiler parent id the trace header named, so the root
    /// point hangs under the caller's point in the tree.
    /// </summary>
    public const string ParentIdProperty = "osprofiler.parent_id";

    /// <summary>Tag a failed activity carries: the error's type name (OSProfiler's <c>etype</c>).</summary>
    public const string ErrorTypeTag = "error.type";

    /// <summary>
    /// A datastore command's point, tagged with what the statement is (SELECT, CREATE ROLE) and never its text, which
    /// can hold a password literal; null when the call is not traced.
    /// </summary>
    public static Activity? StartStatement(string datastore, string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var activity = Source.StartActivity(Names.DatastoreCommand);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("datastore", datastore);
        activity.SetTag("command", StatementKind(sql));
        return activity;
    }

    /// <summary>
    /// The statement's kind: its first word upper-cased, with the object for CREATE/ALTER/DROP (CREATE ROLE), or "?"
    /// when it does not start with a word. Read off the text without splitting it (a statement can be long), and the
    /// common kinds are shared strings rather than one new string a point.
    /// </summary>
    internal static string StatementKind(string sql)
    {
        var rest = sql.AsSpan();
        var first = NextWord(ref rest);
        if (!IsWord(first))
        {
            return "?";
        }

        Span<char> upper = stackalloc char[Math.Min(first.Length, 64)];
        if (first.Length > upper.Length)
        {
            return first.ToString().ToUpperInvariant();
        }

        first.ToUpperInvariant(upper);
        if (upper.SequenceEqual("CREATE") || upper.SequenceEqual("ALTER") || upper.SequenceEqual("DROP"))
        {
            var second = NextWord(ref rest);
            if (IsWord(second))
            {
                return string.Concat(upper, " ", second.ToString().ToUpperInvariant());
            }
        }

        return CommonKinds.TryGetValue(upper, out var kind) ? kind : new string(upper);

        static bool IsWord(ReadOnlySpan<char> word) => !word.IsEmpty && !word.ContainsAnyExcept(AsciiLetters);

        static ReadOnlySpan<char> NextWord(ref ReadOnlySpan<char> text)
        {
            var start = 0;
            while (start < text.Length && char.IsWhiteSpace(text[start]))
            {
                start++;
            }

            var end = start;
            while (end < text.Length && !char.IsWhiteSpace(text[end]))
            {
                end++;
            }

            var word = text[start..end];
            text = text[end..];
            return word;
        }
    }

    private static readonly System.Buffers.SearchValues<char> AsciiLetters =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    private static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> CommonKinds =
        new[] { "SELECT", "INSERT", "UPDATE", "DELETE", "SET", "SHOW", "GRANT", "REVOKE", "BEGIN", "COMMIT", "ROLLBACK", "FLUSH", "GET", "PING", "DO", "WITH", "VALUES", "CALL", "ANALYZE", "VACUUM" }
            .ToDictionary(k => k, k => k, StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Marks <paramref name="activity"/> failed with the exception's type and message (never its data).</summary>
    public static void RecordError(this Activity? activity, Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (activity is null)
        {
            return;
        }

        activity.SetTag(ErrorTypeTag, error.GetType().Name);
        activity.SetStatus(ActivityStatusCode.Error, error.Message);
    }
}
