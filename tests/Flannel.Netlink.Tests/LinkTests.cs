using System.Net;
using System.Net.NetworkInformation;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Netlink.Tests;

[Trait("Category", "Privileged")]
public class LinkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task ListMatchesIproute2()
    {
        await using var s = NetnsScope.Create("links");
        s.Underlay();
        var links = await s.Client.Links.ListAsync(Ct);
        var oracle = s.Ns.IpJson("link", "show").EnumerateArray()
            .Select(l => (l.GetProperty("ifindex").GetInt32(), l.GetProperty("ifname").GetString())).OrderBy(x => x.Item1).ToArray();
        Assert.Equal(oracle, links.Select(l => (l.Index, (string?)l.Name)).OrderBy(x => x.Item1).ToArray());
        var lo = await s.Client.Links.GetAsync("lo", Ct);
        Assert.NotNull(lo);
        Assert.True(lo.IsUp);
        Assert.Equal(lo, (await s.Client.Links.GetByIndexAsync(lo.Index, Ct))! with { UnknownAttributes = lo.UnknownAttributes });
        Assert.Null(await s.Client.Links.GetAsync("nope0", Ct));
        Assert.Null(await s.Client.Links.GetByIndexAsync(9999, Ct));
        var eth0 = await s.Client.Links.GetAsync("eth0", Ct);
        Assert.Equal("veth", eth0!.Kind);
        Assert.NotEmpty(eth0.UnknownAttributes); // e.g. IFLA_STATS64, IFLA_TXQLEN are preserved
    }

    [PrivilegedFact]
    public async Task VxlanWithEveryFlannelAttributeReadsBackAndMatchesIproute2()
    {
        await using var s = NetnsScope.Create("vxlan");
        var eth0 = s.Underlay();
        var mac = PhysicalAddress.Parse("02-42-0a-f4-01-00");
        var spec = new VxlanLinkSpec("flannel.1", vni: 4097)
        {
            Local = IPAddress.Parse("198.18.0.1"),
            Device = eth0,
            Port = 8472,
            Learning = false,
            Gbp = true,
            Ttl = 64,
            Mtu = 1450,
            MacAddress = mac,
            Up = true,
        };
        var link = await s.Client.Links.CreateAsync(spec, Ct);
        Assert.Equal("vxlan", link.Kind);
        Assert.Equal(1450, link.Mtu);
        Assert.Equal(mac, link.MacAddress);
        Assert.True(link.IsUp);
        var v = link.Vxlan!;
        Assert.Equal(4097u, v.Vni);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), v.Local);
        Assert.Equal(eth0, v.Device);
        Assert.Equal((ushort)8472, v.Port);
        Assert.False(v.Learning);
        Assert.True(v.Gbp);
        Assert.Equal((byte)64, v.Ttl);
        Assert.NotEmpty(v.UnknownAttributes); // ageing, limit, udp csum… preserved

        var j = s.Ns.IpJson("-d", "link", "show", "dev", "flannel.1")[0];
        var data = j.GetProperty("linkinfo").GetProperty("info_data");
        Assert.Equal(4097, data.GetProperty("id").GetInt32());
        Assert.Equal("198.18.0.1", data.GetProperty("local").GetString());
        Assert.Equal("eth0", data.GetProperty("link").GetString());
        Assert.Equal(8472, data.GetProperty("port").GetInt32());
        Assert.False(data.GetProperty("learning").GetBoolean());
        Assert.True(data.TryGetProperty("gbp", out var gbp) && gbp.GetBoolean());
        Assert.Equal(64, data.GetProperty("ttl").GetInt32());
        Assert.Equal(1450, j.GetProperty("mtu").GetInt32());
        Assert.Equal("02:42:0a:f4:01:00", j.GetProperty("address").GetString());

        // Ensure: same spec → same device; a different VNI → recreated
        var again = await s.Client.Links.EnsureAsync(spec, Ct);
        Assert.Equal(link.Index, again.Index);
        var changed = await s.Client.Links.EnsureAsync(spec with { Vni = 7 }, Ct);
        Assert.Equal(7u, changed.Vxlan!.Vni);
        Assert.Equal(7, s.Ns.IpJson("-d", "link", "show", "dev", "flannel.1")[0].GetProperty("linkinfo").GetProperty("info_data").GetProperty("id").GetInt32());
    }

    [PrivilegedFact]
    public async Task VxlanUnsetAttributesAreNotSentAndIPv6LocalWorks()
    {
        await using var s = NetnsScope.Create("vx6", ipv6: true);
        s.Underlay();
        var link = await s.Client.Links.CreateAsync(new VxlanLinkSpec("vx6", vni: 9) { Local = IPAddress.Parse("fd00::1"), Port = 4789 }, Ct);
        Assert.Equal(IPAddress.Parse("fd00::1"), link.Vxlan!.Local);
        Assert.Equal((ushort)4789, link.Vxlan.Port);
        var data = s.Ns.IpJson("-d", "link", "show", "dev", "vx6")[0].GetProperty("linkinfo").GetProperty("info_data");
        Assert.Equal("fd00::1", data.GetProperty("local6").GetString());
        Assert.Equal(4789, data.GetProperty("port").GetInt32());
        Assert.False(data.TryGetProperty("link", out _)); // Device unset → no IFLA_VXLAN_LINK
        Assert.True(data.GetProperty("learning").GetBoolean()); // Learning unset → kernel default (on)
        Assert.False(data.TryGetProperty("gbp", out _));
    }

    [PrivilegedFact]
    public async Task SetUpDownMtuMacAndDelete()
    {
        await using var s = NetnsScope.Create("lset");
        var br = await s.Client.Links.CreateAsync(new BridgeLinkSpec("br0"), Ct);
        Assert.False(br.IsUp);
        await s.Client.Links.SetUpAsync(br.Index, Ct);
        Assert.Contains("UP", s.Ns.IpJson("link", "show", "dev", "br0")[0].GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        await s.Client.Links.SetMtuAsync(br.Index, 1400, Ct);
        await s.Client.Links.SetMacAddressAsync(br.Index, PhysicalAddress.Parse("02-00-00-00-00-07"), Ct);
        var j = s.Ns.IpJson("link", "show", "dev", "br0")[0];
        Assert.Equal(1400, j.GetProperty("mtu").GetInt32());
        Assert.Equal("02:00:00:00:00:07", j.GetProperty("address").GetString());
        await s.Client.Links.SetDownAsync(br.Index, Ct);
        Assert.DoesNotContain("UP", s.Ns.IpJson("link", "show", "dev", "br0")[0].GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.False((await s.Client.Links.GetByIndexAsync(br.Index, Ct))!.IsUp);

        Assert.True(await s.Client.Links.DeleteAsync(br.Index, Ct));
        Assert.False(await s.Client.Links.DeleteAsync(br.Index, Ct));
        Assert.False(await s.Client.Links.DeleteByNameAsync("br0", Ct));
        Assert.Equal(0, s.Ns.IpJson("link", "show").EnumerateArray().Count(l => l.GetProperty("ifname").GetString() == "br0"));
    }

    [PrivilegedFact]
    public async Task SetMasterAttachesAndReleasesABridgePort()
    {
        await using var s = NetnsScope.Create("lmaster");
        var br = await s.Client.Links.CreateAsync(new BridgeLinkSpec("br0"), Ct);
        var port = await s.Client.Links.CreateAsync(new VethLinkSpec("fln-p0", "fln-p1"), Ct);

        await s.Client.Links.SetMasterAsync(port.Index, br.Index, Ct);
        Assert.Equal("br0", s.Ns.IpJson("link", "show", "dev", "fln-p0")[0].GetProperty("master").GetString());
        Assert.Equal(br.Index, (await s.Client.Links.GetByIndexAsync(port.Index, Ct))!.MasterIndex);

        await s.Client.Links.SetMasterAsync(port.Index, 0, Ct);
        Assert.False(s.Ns.IpJson("link", "show", "dev", "fln-p0")[0].TryGetProperty("master", out _));
    }

    [PrivilegedFact]
    public async Task VethPeerInAnotherNamespaceAndDuplicateCreateFailsWithEexist()
    {
        await using var s = NetnsScope.Create("veth");
        using var other = TestNamespace.Create("peer");
        using var otherHandle = NetworkNamespace.OpenByName(other.Name);
        var v = await s.Client.Links.CreateAsync(new VethLinkSpec("vh0", "vp0") { PeerNamespace = otherHandle, Up = true }, Ct);
        Assert.Equal("veth", v.Kind);
        Assert.Single(other.IpJson("link", "show", "dev", "vp0").EnumerateArray());
        var ex = await Assert.ThrowsAsync<NetlinkException>(async () => await s.Client.Links.CreateAsync(new BridgeLinkSpec("vh0"), Ct));
        Assert.Equal(Errno.EEXIST, ex.Error);
        Assert.Equal("RTM_NEWLINK", ex.Operation);
        Assert.NotEqual(0u, ex.Sequence);
    }

    [PrivilegedFact]
    public async Task AnonymousNamespaceFromCreateIsUsable()
    {
        using var ns = NetworkNamespace.Create();
        await using var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = ns });
        var links = await rtnl.Links.ListAsync(Ct);
        Assert.Equal(["lo"], links.Select(l => l.Name));
        await rtnl.Links.CreateAsync(new BridgeLinkSpec("fln-anon0"), Ct);
        Assert.Equal(2, (await rtnl.Links.ListAsync(Ct)).Count);
        // the process's own namespace did not get the bridge
        Assert.Equal(0u, Interop.Libc.IfNameToIndex("fln-anon0"));
    }

    [Fact]
    public void OpeningAMissingNamespaceFailsWithENOENT()
    {
        var ex = Assert.Throws<NetlinkException>(() => NetworkNamespace.OpenByName("fln-does-not-exist"));
        Assert.Equal(Errno.ENOENT, ex.Error);
        Assert.Throws<ArgumentException>(() => NetworkNamespace.OpenByName("../etc"));
    }
}
