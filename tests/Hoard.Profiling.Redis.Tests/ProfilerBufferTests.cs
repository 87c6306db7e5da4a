using System.Globalization;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Configuration;
using Hoard.Core.Profiling;
using Hoard.Profiling.Redis;
using Hoard.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace Hoard.Profiling.Redis.Tests;

/// <summary>The profiler's buffer against a real redis-server that stops answering (SIGSTOP), then answers again.</summary>
public sealed class ProfilerBufferTests
{
    [RequiresBinaryFact("redis-server")]
    public async Task With_the_backend_frozen_points_beyond_the_buffer_are_dropped_and_counted_and_later_ones_are_written()
    {
        var redis = new RedisTestServer();
        await redis.InitializeAsync();
        var frozen = false;
        try
        {
            var database = await redis.FreshDatabaseAsync();
            await Kill("-STOP", redis.Pid);
            frozen = true;
            var options = new ProfilerOptions { Enabled = true, HmacKeys = ["k"], ConnectionString = "redis://", BufferSize = 10 };
            await using var profiler = new Profiler(options, new RedisTracePlugin().Open(redis.ConnectionString(database)), NullLogger<Profiler>.Instance);
            profiler.Start();

            // Submit never waits for the backend: this loop ends although nothing can be written. The writer holds
            // at most one batch (no more than the buffer) while its write hangs, so at least 100 - 2 x 10 are dropped.
            var trace = Guid.NewGuid().ToString();
            for (var i = 0; i < 100; i++)
            {
                profiler.Submit(Point(trace, i));
            }

            Assert.InRange(profiler.Dropped, 80, 100);

            await Kill("-CONT", redis.Pid);
            frozen = false;
            // The buffer may still be full of the frozen-time points just after the thaw: keep submitting until one lands.
            var later = Guid.NewGuid().ToString();
            await Timeouts.EventuallyAsync(
                async () =>
                {
                    profiler.Submit(Point(later, 0));
                    return await redis.Admin.GetDatabase(database).KeyExistsAsync("osprofiler_opt:" + later);
                },
                exists => exists,
                Timeouts.Settle,
                "a point submitted after the backend recovered to be written");
        }
        finally
        {
            if (frozen)
            {
                await Kill("-CONT", redis.Pid);
            }

            await redis.DisposeAsync();
        }
    }

    private static TracePoint Point(string trace, int i) => new()
    {
        BaseId = trace,
        Id = Guid.NewGuid().ToString(),
        ParentId = trace,
        Name = "wsgi",
        Service = "api",
        Host = "h",
        Start = DateTime.UtcNow,
        Stop = DateTime.UtcNow,
        Info = new Dictionary<string, string> { ["n"] = i.ToString(CultureInfo.InvariantCulture) },
    };

    private static async Task Kill(string signal, int pid)
    {
        var result = await ProcessRunner.RunAsync("kill", [signal, pid.ToString(CultureInfo.InvariantCulture)], timeout: Timeouts.Short);
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
