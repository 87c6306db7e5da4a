namespace Hoard.Datastores.Redis.Tests.Support;

/// <summary>Every await in these tests is bounded, so a hang fails one test instead of the run.</summary>
internal static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(20);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(Default);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(Default);

    public static Task DefaultTimeout(this ValueTask task) => task.AsTask().WaitAsync(Default);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails the test when it never does.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Default;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(5);
        }
    }
}
