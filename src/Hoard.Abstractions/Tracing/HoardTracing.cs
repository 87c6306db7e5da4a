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

        var words = sql.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
        static bool IsWord(string w) => w.Length > 0 && w.All(char.IsAsciiLetter);
        var verb = words.Length > 0 && IsWord(words[0]) ? words[0].ToUpperInvariant() : "?";
        if (verb is "CREATE" or "ALTER" or "DROP" && words.Length > 1 && IsWord(words[1]))
        {
            verb += " " + words[1].ToUpperInvariant();
        }

        activity.SetTag("datastore", datastore);
        activity.SetTag("command", verb);
        return activity;
    }

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
