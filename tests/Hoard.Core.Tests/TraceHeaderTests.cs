using System.Diagnostics;
using Hoard.Abstractions.Tracing;
using Hoard.Core.Profiling;
using Hoard.Core.Tasks;
using Xunit;

namespace Hoard.Core.Tests;

/// <summary>
/// The trace trigger against headers made by OSProfiler itself (osprofiler._utils.signed_pack with key
/// 'hoard-test-key'), so these pin interoperability with the stock clients, not only agreement with our own signer.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "OSProfiler's header format is HMAC-SHA1.")]
public sealed class TraceHeaderTests
{
    private const string Key = "hoard-test-key";
    private const string BaseId = "4f1c6e9e-2f6a-4a57-9d43-2b7d0c2f1a10";

    // {"base_id": BaseId, "parent_id": BaseId}, as `openstack --os-profile hoard-test-key` sends it.
    private const string Info = "eyJiYXNlX2lkIjogIjRmMWM2ZTllLTJmNmEtNGE1Ny05ZDQzLTJiN2QwYzJmMWExMCIsICJwYXJlbnRfaWQiOiAiNGYxYzZlOWUtMmY2YS00YTU3LTlkNDMtMmI3ZDBjMmYxYTEwIn0=";
    private const string Hmac = "7291154c3370432573e9146c36b81d4f2324b0f7";

    [Fact]
    public void A_header_osprofiler_signed_with_a_configured_key_starts_that_trace()
    {
        var header = TraceHeader.Verify(Info, Hmac, ["another-key", Key]);
        Assert.NotNull(header);
        Assert.Equal(BaseId, header.BaseId);
        Assert.Equal(BaseId, header.ParentId);
    }

    [Fact]
    public void A_header_signed_with_another_key_is_ignored() =>
        Assert.Null(TraceHeader.Verify(Info, Hmac, ["another-key", "hoard-test-kez"]));

    [Fact]
    public void With_no_key_configured_no_header_is_trusted() =>
        Assert.Null(TraceHeader.Verify(Info, Hmac, []));

    [Theory]
    [InlineData(null, Hmac)]
    [InlineData("", Hmac)]
    [InlineData(Info, null)]
    [InlineData(Info, "")]
    [InlineData(Info, "7291154c")] // truncated signature
    [InlineData(Info, "zz91154c3370432573e9146c36b81d4f2324b0f7")] // not hex
    [InlineData(Info + "x", Hmac)] // data changed after signing
    public void A_missing_truncated_or_tampered_header_is_ignored(string? info, string? hmac) =>
        Assert.Null(TraceHeader.Verify(info, hmac, [Key]));

    [Theory]
    // Signed correctly, but OSProfiler's middleware would refuse the content too:
    [InlineData("eyJiYXNlX2lkIjogIjRmMWM2ZTllLTJmNmEtNGE1Ny05ZDQzLTJiN2QwYzJmMWExMCIsICJwYXJlbnRfaWQiOiAiNGYxYzZlOWUtMmY2YS00YTU3LTlkNDMtMmI3ZDBjMmYxYTEwIiwgImhtYWNfa2V5IjogIngifQ==", "c0abc3c3a76c6869df07f1fdbff059008808c1c4")] // an extra key
    [InlineData("eyJwYXJlbnRfaWQiOiAiNGYxYzZlOWUtMmY2YS00YTU3LTlkNDMtMmI3ZDBjMmYxYTEwIn0=", "ec623822a974f16ef4de5c88813fc3add313f1ec")] // no base_id
    [InlineData("eyJiYXNlX2lkIjogIm5vdC1hLXV1aWQifQ==", "bb3e68d3738dc31f66623e57c6cdc0eba7bbaa7d")] // base_id not a UUID
    public void A_signed_but_malformed_header_is_ignored(string info, string hmac) =>
        Assert.Null(TraceHeader.Verify(info, hmac, [Key]));

    [Fact]
    public void Signed_garbage_that_is_not_base64_json_is_ignored()
    {
        foreach (var info in new[] { "!!!not base64!!!", "bm90IGpzb24=", "WzEsMl0=" }) // garbage, "not json", "[1,2]"
        {
            var signed = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA1.HashData("hoard-test-key"u8, System.Text.Encoding.UTF8.GetBytes(info)));
            Assert.Null(TraceHeader.Verify(info, signed, [Key]));
        }
    }

    [Fact]
    public void Our_signer_makes_the_header_osprofiler_makes() =>
        Assert.Equal((Info, Hmac), TraceHeader.Sign(BaseId, BaseId, Key) is var (i, h) ? (i, h) : default);

    [Fact]
    public void A_task_made_in_a_traced_request_carries_the_trace_and_a_replaced_payload_keeps_it()
    {
        using var source = new ActivitySource("Hoard.Core.Tests.TaskTrace");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        Assert.True(TraceIds.TryTraceId(BaseId, out var traceId));
        using (var request = source.StartActivity("wsgi", ActivityKind.Server, new ActivityContext(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded)))
        {
            Assert.NotNull(request);
            var task = TaskRecords.Pending("instance.create", "i-1", DateTimeOffset.UnixEpoch, """{"schema":"sealed"}""");
            var context = TaskTrace.ContextOf(task.Payload);
            Assert.Equal(traceId, context?.TraceId);
            Assert.Equal(request.SpanId, context?.SpanId);
            Assert.Contains("\"schema\":\"sealed\"", task.Payload, StringComparison.Ordinal);
            Assert.Equal(request.Id, TaskTrace.Of(TaskTrace.Keep(task.Payload, """{"waves":[]}""")));
        }

        Assert.Null(TaskTrace.ContextOf(TaskRecords.Pending("instance.create", "i-2", DateTimeOffset.UnixEpoch).Payload));
    }

    [Fact]
    public void An_osprofiler_base_id_and_the_w3c_trace_id_name_the_same_trace()
    {
        Assert.True(TraceIds.TryTraceId(BaseId, out var traceId));
        Assert.Equal(BaseId, TraceIds.ToUuid(traceId.ToHexString()));
        Assert.False(TraceIds.TryTraceId("not-a-uuid", out _));
    }
}
