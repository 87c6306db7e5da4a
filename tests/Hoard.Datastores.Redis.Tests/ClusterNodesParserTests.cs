using Hoard.Abstractions.Clusters;
using Hoard.Datastores.Redis.Cluster;

namespace Hoard.Datastores.Redis.Tests;

/// <summary>CLUSTER NODES and CLUSTER INFO as Redis 7 prints them.</summary>
public sealed class ClusterNodesParserTests
{
    private const string Source = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca";
    private const string Target = "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1";

    [Fact]
    public void ReadsMastersReplicasSlotsAndOpenSlots()
    {
        var text =
            $"{Source} 127.0.0.1:30001@40001 myself,master - 0 1426238316232 1 connected 0-5460 5462 [5461->-{Target}] [93-<-{Target}]\n"
            + $"{Target} 127.0.0.1:30002@40002,node-b.example master - 0 1426238316232 2 connected 5463-10922\n"
            + $"292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30004@40004 slave {Source} 0 1426238317741 1 connected\n"
            + "824fe116063bc5fcf9f4ffd895bc17aee7731ac3 127.0.0.1:30005@40005 master,fail? - 1426238316232 1426238316232 7 disconnected 10923-16383\n";

        var view = ClusterNodesParser.Parse(text);

        Assert.Equal(4, view.Nodes.Count);
        var myself = view.Myself;
        Assert.Equal(Source, myself.NodeId);
        Assert.Equal(("127.0.0.1", 30001), (myself.Address, myself.Port));
        Assert.True(myself.IsMaster);
        Assert.Equal([new SlotRange(0, 5460), new SlotRange(5462, 5462)], myself.Slots);
        Assert.Equal(5462, myself.SlotCount);
        Assert.Equal([5461], myself.Migrating);
        Assert.Equal([93], myself.Importing);
        Assert.Equal([new OpenSlot(5461, Importing: false, Target), new OpenSlot(93, Importing: true, Target)], view.OpenSlots);
        Assert.Equal(1, myself.ConfigEpoch);

        var target = view.Find(Target)!;
        Assert.Equal(("127.0.0.1", 30002), (target.Address, target.Port));
        Assert.False(target.Myself);
        Assert.Null(target.MasterId);

        var replica = view.Nodes[2];
        Assert.False(replica.IsMaster);
        Assert.Equal(Source, replica.MasterId);
        Assert.Empty(replica.Slots);
        Assert.False(replica.Failing);

        var failing = view.Nodes[3];
        Assert.True(failing.Failing);
        Assert.False(failing.Connected);
        Assert.Equal(7, failing.ConfigEpoch);

        Assert.Equal(Source, view.OwnerOf(0));
        Assert.Equal(Source, view.OwnerOf(5462));
        Assert.Null(view.OwnerOf(5461));
        Assert.Equal(Target, view.OwnerOf(5463));
        Assert.Equal("824fe116063bc5fcf9f4ffd895bc17aee7731ac3", view.OwnerOf(16383));
    }

    [Fact]
    public void ReadsNodesInHandshakeWithoutAddressAndOverIpv6()
    {
        var text =
            $"{Source} :6379@16379 myself,master - 0 0 0 connected\n"
            + $"{Target} 127.203.9.2:6379@16379 handshake - 0 0 0 disconnected\n"
            + "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f ::1:6380@16380 master,fail - 1 2 3 connected 16383\n"
            + "824fe116063bc5fcf9f4ffd895bc17aee7731ac3 :0@0 master,noaddr - 1 2 3 disconnected\n";

        var view = ClusterNodesParser.Parse(text);

        Assert.Equal(string.Empty, view.Myself.Address);
        Assert.Empty(view.OpenSlots);
        Assert.True(view.Nodes[1].Failing);
        Assert.Equal(("::1", 6380), (view.Nodes[2].Address, view.Nodes[2].Port));
        Assert.True(view.Nodes[2].Failing);
        Assert.Equal([new SlotRange(16383, 16383)], view.Nodes[2].Slots);
        Assert.False(view.Nodes[3].Connected);
    }

    [Theory]
    [InlineData("abc 127.0.0.1:1@2 myself,master - 0 0 1")]
    [InlineData("abc 127.0.0.1:1@2 myself,master - 0 0 1 connected 16384")]
    [InlineData("abc 127.0.0.1:1@2 myself,master - 0 0 1 connected [5-=-x]")]
    [InlineData("abc 127.0.0.1@2 myself,master - 0 0 1 connected")]
    [InlineData("abc 127.0.0.1:1@2 master - 0 0 1 connected")]
    public void RefusesWhatIsNotClusterNodes(string text) =>
        Assert.Throws<FormatException>(() => ClusterNodesParser.Parse(text));

    [Fact]
    public void ReadsClusterInfo()
    {
        var text = "cluster_enabled:1\r\ncluster_state:fail\r\ncluster_slots_assigned:10923\r\ncluster_slots_ok:10923\r\ncluster_known_nodes:3\r\n";

        Assert.Equal(("fail", 10923), ClusterNodesParser.ParseInfo(text));
    }

    [Fact]
    public void JoinsSlotsIntoRanges() =>
        Assert.Equal([new SlotRange(0, 2), new SlotRange(5, 5), new SlotRange(7, 8)], ClusterNodesParser.ToRanges([0, 1, 2, 5, 7, 8]));
}
