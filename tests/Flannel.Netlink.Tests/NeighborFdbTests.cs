using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Netlink.Tests;

[Trait("Category", "Privileged")]
public class NeighborFdbTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task ArpAndNdpPermanentEntries()
    {
        await using var s = NetnsScope.Create("neigh", ipv6: true);
        var eth0 = s.Underlay();
        var mac = PhysicalAddress.Parse("02-a0-00-00-00-01");
        var mac2 = PhysicalAddress.Parse("02-a0-00-00-00-02");
        await s.Client.Neighbors.ReplaceAsync(new NeighborSpec(eth0, IPAddress.Parse("198.18.0.9"), mac), Ct);
        await s.Client.Neighbors.ReplaceAsync(new NeighborSpec(eth0, IPAddress.Parse("198.18.0.9"), mac2), Ct); // replace
        await s.Client.Neighbors.ReplaceAsync(new NeighborSpec(eth0, IPAddress.Parse("fd00::9"), mac), Ct);

        var list = await s.Client.Neighbors.ListAsync(eth0, cancellationToken: Ct);
        var n4 = Assert.Single(list, n => n.Address.Equals(IPAddress.Parse("198.18.0.9")));
        Assert.Equal(mac2, n4.LinkAddress);
        Assert.Equal(NeighborState.Permanent, n4.State);
        Assert.Contains(list, n => n.Address.Equals(IPAddress.Parse("fd00::9")) && n.LinkAddress!.Equals(mac));
        Assert.All(await s.Client.Neighbors.ListAsync(eth0, AddressFamily.InterNetworkV6, Ct), n => Assert.Equal(AddressFamily.InterNetworkV6, n.Address.AddressFamily));

        var oracle = s.Ns.IpJson("neigh", "show", "dev", "eth0").EnumerateArray()
            .Where(n => n.TryGetProperty("lladdr", out _))
            .Select(n => (n.GetProperty("dst").GetString(), n.GetProperty("lladdr").GetString(), n.GetProperty("state")[0].GetString())).ToHashSet();
        Assert.Contains(("198.18.0.9", "02:a0:00:00:00:02", "PERMANENT"), oracle);
        Assert.Contains(("fd00::9", "02:a0:00:00:00:01", "PERMANENT"), oracle);

        Assert.True(await s.Client.Neighbors.DeleteAsync(eth0, IPAddress.Parse("198.18.0.9"), Ct));
        Assert.False(await s.Client.Neighbors.DeleteAsync(eth0, IPAddress.Parse("198.18.0.9"), Ct));
        Assert.True(await s.Client.Neighbors.DeleteAsync(eth0, IPAddress.Parse("fd00::9"), Ct));
        Assert.DoesNotContain(s.Ns.IpJson("neigh", "show", "dev", "eth0").EnumerateArray(), n => n.GetProperty("dst").GetString() is "198.18.0.9" or "fd00::9");
    }

    [PrivilegedFact]
    public async Task VxlanFdbAppendReplaceDeleteList()
    {
        await using var s = NetnsScope.Create("fdb");
        var eth0 = s.Underlay();
        var vx = await s.Client.Links.CreateAsync(new VxlanLinkSpec("flannel.1", 1) { Device = eth0, Port = 8472, Learning = false }, Ct);
        var peer = PhysicalAddress.Parse("02-a0-00-00-00-05");
        await s.Client.Fdb.ReplaceAsync(new FdbSpec(vx.Index, peer, IPAddress.Parse("198.18.0.2")), Ct);
        await s.Client.Fdb.ReplaceAsync(new FdbSpec(vx.Index, peer, IPAddress.Parse("198.18.0.3")), Ct); // moves the MAC
        var zero = PhysicalAddress.Parse("00-00-00-00-00-00");
        await s.Client.Fdb.AppendAsync(new FdbSpec(vx.Index, zero, IPAddress.Parse("198.18.0.10")), Ct);
        await s.Client.Fdb.AppendAsync(new FdbSpec(vx.Index, zero, IPAddress.Parse("198.18.0.11")) { Port = 4789, Vni = 77 }, Ct);

        var list = await s.Client.Fdb.ListAsync(vx.Index, Ct);
        var p = Assert.Single(list, e => e.LinkAddress.Equals(peer));
        Assert.Equal(IPAddress.Parse("198.18.0.3"), p.Destination);
        Assert.True((p.Flags & NeighborFlags.Self) != 0);
        Assert.Equal(NeighborState.Permanent, p.State);
        Assert.Equal(2, list.Count(e => e.LinkAddress.Equals(zero)));
        var custom = Assert.Single(list, e => IPAddress.Parse("198.18.0.11").Equals(e.Destination));
        Assert.Equal((ushort)4789, custom.Port);
        Assert.Equal(77u, custom.Vni);

        var oracle = s.Ns.BridgeJson("fdb", "show", "dev", "flannel.1").EnumerateArray()
            .Where(e => e.TryGetProperty("dst", out _))
            .Select(e => (e.GetProperty("mac").GetString()!, e.GetProperty("dst").GetString()!)).ToHashSet();
        Assert.Equal(oracle, list.Where(e => e.Destination is not null).Select(e => (e.LinkAddress.ToString() switch { var m => string.Join(':', Enumerable.Range(0, 6).Select(i => m.Substring(i * 2, 2).ToLowerInvariant())) }, e.Destination!.ToString())).ToHashSet());
        var j = s.Ns.BridgeJson("fdb", "show", "dev", "flannel.1").EnumerateArray().Single(e => e.TryGetProperty("dst", out var d) && d.GetString() == "198.18.0.11");
        Assert.Equal(4789, j.GetProperty("port").GetInt32());
        Assert.Equal(77, j.GetProperty("vni").GetInt32());

        Assert.True(await s.Client.Fdb.DeleteAsync(new FdbSpec(vx.Index, peer, IPAddress.Parse("198.18.0.3")), Ct));
        Assert.False(await s.Client.Fdb.DeleteAsync(new FdbSpec(vx.Index, peer, IPAddress.Parse("198.18.0.3")), Ct));
        Assert.True(await s.Client.Fdb.DeleteAsync(new FdbSpec(vx.Index, zero, IPAddress.Parse("198.18.0.10")), Ct));
        var after = s.Ns.BridgeJson("fdb", "show", "dev", "flannel.1").EnumerateArray().Where(e => e.TryGetProperty("dst", out _)).ToArray();
        Assert.Single(after);
        Assert.Equal("198.18.0.11", after[0].GetProperty("dst").GetString());
    }
}
