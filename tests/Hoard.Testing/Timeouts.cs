namespace Hoard.Testing;

/// <summary>Default deadlines, so every await in a test ends.</summary>
public static class Timeouts
{
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan Cli = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);

    public static Task<T> Within<T>(this Task<T> task, TimeSpan timeout) => task.WaitAsync(timeout);

    public static Task Within(this Task task, TimeSpan timeout) => task.WaitAsync(timeout);

    /// <summary>Polls until <paramref name="condition"/> holds, or fails with <paramref name="what"/> after the deadline.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(20);
        T last;
        while (true)
        {
            last = await probe().WaitAsync(timeout);
            if (condition(last))
            {
                return last;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}; last seen: {last}");
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
    }
}
