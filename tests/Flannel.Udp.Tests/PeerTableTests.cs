using System.Net;
using Xunit;

namespace Flannel.Udp.Tests;

public sealed class PeerTableTests
{
    private static uint A(string s) => PeerRoute.ToHost(IPAddress.Parse(s));

    private static PeerRoute R(string subnet, string peer) => PeerRoute.Create(IPNetwork.Parse(subnet), IPAddress.Parse(peer), 8285);

    [Fact]
    public void Longest_prefix_wins_whatever_the_order()
    {
        var t = PeerTable.Create([R("10.244.0.0/16", "198.18.0.1"), R("10.244.2.0/24", "198.18.0.2"), R("10.244.2.128/25", "198.18.0.3")]);
        Assert.True(t.TryLookup(A("10.244.2.200"), out var r));
        Assert.Equal(A("198.18.0.3"), r.PeerAddress);
        Assert.True(t.TryLookup(A("10.244.2.5"), out r));
        Assert.Equal(A("198.18.0.2"), r.PeerAddress);
        Assert.True(t.TryLookup(A("10.244.77.1"), out r));
        Assert.Equal(A("198.18.0.1"), r.PeerAddress);
        Assert.False(t.TryLookup(A("10.245.0.1"), out _));
    }

    [Fact]
    public void Empty_table_routes_nothing_and_knows_no_peer()
    {
        Assert.False(PeerTable.Empty.TryLookup(A("10.244.1.1"), out _));
        Assert.False(PeerTable.Empty.IsPeer(A("198.18.0.1")));
    }

    [Fact]
    public void A_later_route_for_the_same_subnet_replaces_the_earlier_one_and_unaligned_subnets_are_normalised()
    {
        var t = PeerTable.Create([R("10.244.3.0/24", "198.18.0.2"), R("10.244.3.0/24", "198.18.0.9")]);
        Assert.Single(t.Routes);
        Assert.True(t.TryLookup(A("10.244.3.7"), out var r));
        Assert.Equal(A("198.18.0.9"), r.PeerAddress);
        Assert.True(t.IsPeer(A("198.18.0.9")));
        Assert.False(t.IsPeer(A("198.18.0.2")));

        var n = PeerTable.Create([new PeerRoute(A("10.244.5.77"), 24, A("198.18.0.5"), 8285)]);
        Assert.True(n.TryLookup(A("10.244.5.1"), out _));
    }

    [Fact]
    public void Default_route_matches_everything()
    {
        var t = PeerTable.Create([R("0.0.0.0/0", "198.18.0.1")]);
        Assert.True(t.TryLookup(A("8.8.8.8"), out _));
    }
}
