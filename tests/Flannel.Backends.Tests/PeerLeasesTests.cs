using System.Net;
using Flannel.HostGw;
using Xunit;

namespace Flannel.Backends.Tests;

public sealed class PeerLeasesTests
{
    private static Lease L(string subnet, string ip) =>
        new() { Subnet = IPNetwork.Parse(subnet), Attributes = new LeaseAttributes { PublicIP = IPAddress.Parse(ip), BackendType = "host-gw" } };

    [Fact]
    public void Snapshot_excludes_own_lease_and_removals_carry_the_last_attributes()
    {
        var own = L("10.244.1.0/24", "198.18.0.1");
        var peers = new PeerLeases(own);
        Assert.Null(peers.Apply(new LeaseWatchResult { Snapshot = [own, L("10.244.2.0/24", "198.18.0.2")] }));
        Assert.Single(peers.Current);

        var events = peers.Apply(new LeaseWatchResult
        {
            Events =
            [
                new LeaseEvent(LeaseEventKind.Added, L("10.244.3.0/24", "198.18.0.3")),
                new LeaseEvent(LeaseEventKind.Added, own with { Revision = 9 }),
                new LeaseEvent(LeaseEventKind.Removed, new Lease { Subnet = IPNetwork.Parse("10.244.2.0/24") }),
            ],
        })!;
        Assert.Equal(2, events.Count);
        Assert.Equal(IPAddress.Parse("198.18.0.2"), events[1].Lease.Attributes.PublicIP);
        Assert.Equal([IPNetwork.Parse("10.244.3.0/24")], peers.Current.Select(l => l.Subnet!.Value));
    }
}
