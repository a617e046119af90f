using System.Net;
using System.Net.Sockets;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Netlink.Tests;

[Trait("Category", "Privileged")]
public class AddressRouteTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task AddressesIPv4AndIPv6AddListReplaceDelete()
    {
        await using var s = NetnsScope.Create("addr", ipv6: true);
        var br = await s.Client.Links.CreateAsync(new BridgeLinkSpec("br0") { Up = true }, Ct);
        var v4 = new AddressSpec(br.Index, IPAddress.Parse("10.244.1.0"), 16);
        var v6 = new AddressSpec(br.Index, IPAddress.Parse("fd00:10::5"), 64) { NoDad = true };
        await s.Client.Addresses.AddAsync(v4, Ct);
        await s.Client.Addresses.ReplaceAsync(v4, Ct); // idempotent
        await s.Client.Addresses.ReplaceAsync(v6, Ct);
        var ex = await Assert.ThrowsAsync<NetlinkException>(async () => await s.Client.Addresses.AddAsync(v4, Ct));
        Assert.Equal(Errno.EEXIST, ex.Error);

        var list = await s.Client.Addresses.ListAsync(br.Index, cancellationToken: Ct);
        Assert.Contains(list, a => a.Address.Equals(IPAddress.Parse("10.244.1.0")) && a.PrefixLength == 16 && a.Network == IPNetwork.Parse("10.244.0.0/16"));
        Assert.Contains(list, a => a.Address.Equals(IPAddress.Parse("fd00:10::5")) && a.PrefixLength == 64);
        Assert.All(list, a => Assert.Equal(br.Index, a.InterfaceIndex));
        var only4 = await s.Client.Addresses.ListAsync(br.Index, AddressFamily.InterNetwork, Ct);
        Assert.All(only4, a => Assert.Equal(AddressFamily.InterNetwork, a.Family));

        var oracle = s.Ns.IpJson("addr", "show", "dev", "br0")[0].GetProperty("addr_info").EnumerateArray()
            .Select(a => (a.GetProperty("local").GetString()!, a.GetProperty("prefixlen").GetInt32())).ToHashSet();
        Assert.Equal(oracle, list.Select(a => (a.Address.ToString(), a.PrefixLength)).ToHashSet());

        Assert.True(await s.Client.Addresses.DeleteAsync(v4, Ct));
        Assert.False(await s.Client.Addresses.DeleteAsync(v4, Ct));
        Assert.True(await s.Client.Addresses.DeleteAsync(v6, Ct));
        Assert.DoesNotContain(s.Ns.IpJson("addr", "show", "dev", "br0")[0].GetProperty("addr_info").EnumerateArray(),
            a => a.GetProperty("local").GetString() is "10.244.1.0" or "fd00:10::5");
    }

    [PrivilegedFact]
    public async Task RoutesEveryAttributeMatchesIproute2AndDeleteIsIdempotent()
    {
        await using var s = NetnsScope.Create("route");
        var eth0 = s.Underlay();
        var vx = await s.Client.Links.CreateAsync(new VxlanLinkSpec("flannel.1", 1) { Device = eth0, Port = 8472, Learning = false, Up = true }, Ct);
        await s.Client.Addresses.ReplaceAsync(new AddressSpec(vx.Index, IPAddress.Parse("10.244.1.0"), 32), Ct);

        // flannel vxlan route: via the peer's VTEP address, onlink
        var onlink = new RouteSpec(IPNetwork.Parse("10.244.2.0/24")) { Gateway = IPAddress.Parse("10.244.2.0"), Device = vx.Index, OnLink = true };
        await s.Client.Routes.ReplaceAsync(onlink, Ct);
        await s.Client.Routes.ReplaceAsync(onlink, Ct);
        // host-gw route with metric and prefsrc and protocol static
        var hostgw = new RouteSpec(IPNetwork.Parse("10.244.3.0/24")) { Gateway = IPAddress.Parse("198.18.0.2"), Device = eth0, Metric = 100, PreferredSource = IPAddress.Parse("198.18.0.1"), Protocol = RouteProtocol.Static };
        await s.Client.Routes.ReplaceAsync(hostgw, Ct);
        // blackhole in table 100, scope link device route in table 1000
        await s.Client.Routes.ReplaceAsync(new RouteSpec(IPNetwork.Parse("10.250.0.0/16")) { Type = RouteType.Blackhole, Table = 100 }, Ct);
        await s.Client.Routes.ReplaceAsync(new RouteSpec(IPNetwork.Parse("10.251.0.0/16")) { Device = eth0, Table = 1000 }, Ct);

        var main = await s.Client.Routes.ListAsync(new RouteFilter { Family = AddressFamily.InterNetwork }, Ct);
        var r2 = Assert.Single(main, r => r.Destination == IPNetwork.Parse("10.244.2.0/24"));
        Assert.Equal(IPAddress.Parse("10.244.2.0"), r2.Gateway);
        Assert.Equal(vx.Index, r2.OutputInterface);
        Assert.True(r2.OnLink);
        Assert.Equal(RouteProtocol.Boot, r2.Protocol);
        var r3 = Assert.Single(main, r => r.Destination == IPNetwork.Parse("10.244.3.0/24"));
        Assert.Equal(100u, r3.Metric);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), r3.PreferredSource);
        Assert.Equal(RouteProtocol.Static, r3.Protocol);
        Assert.All(main, r => Assert.Equal(RouteTables.Main, r.Table));

        var oracle = s.Ns.IpJson("route", "show").EnumerateArray().Select(r => r.GetProperty("dst").GetString()!).ToHashSet();
        Assert.Equal(oracle, main.Select(r => r.Destination.PrefixLength == 0 ? "default" : r.Destination.PrefixLength == 32 ? r.Destination.BaseAddress.ToString() : r.Destination.ToString()).ToHashSet());
        var j2 = s.Ns.IpJson("route", "show", "10.244.2.0/24")[0];
        Assert.Equal("10.244.2.0", j2.GetProperty("gateway").GetString());
        Assert.Equal("flannel.1", j2.GetProperty("dev").GetString());
        Assert.Contains("onlink", j2.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        var j3 = s.Ns.IpJson("route", "show", "10.244.3.0/24")[0];
        Assert.Equal(100, j3.GetProperty("metric").GetInt32());
        Assert.Equal("198.18.0.1", j3.GetProperty("prefsrc").GetString());
        Assert.Equal("static", j3.GetProperty("protocol").GetString());

        var t100 = Assert.Single(await s.Client.Routes.ListAsync(new RouteFilter { Table = 100 }, Ct));
        Assert.Equal(RouteType.Blackhole, t100.Type);
        Assert.Equal("blackhole", s.Ns.IpJson("route", "show", "table", "100")[0].GetProperty("type").GetString());
        var t1000 = Assert.Single(await s.Client.Routes.ListAsync(new RouteFilter { Table = 1000 }, Ct));
        Assert.Equal(1000u, t1000.Table);
        Assert.Equal(RouteScope.Link, t1000.Scope);
        Assert.Equal("link", s.Ns.IpJson("route", "show", "table", "1000")[0].GetProperty("scope").GetString());

        // kernel-side filters: by device, by protocol
        var onVx = await s.Client.Routes.ListAsync(new RouteFilter { Device = vx.Index }, Ct);
        Assert.All(onVx, r => Assert.Equal(vx.Index, r.OutputInterface));
        Assert.Contains(onVx, r => r.Destination == IPNetwork.Parse("10.244.2.0/24"));
        var stat = Assert.Single(await s.Client.Routes.ListAsync(new RouteFilter { Protocol = RouteProtocol.Static }, Ct));
        Assert.Equal(IPNetwork.Parse("10.244.3.0/24"), stat.Destination);
        var all = await s.Client.Routes.ListAsync(new RouteFilter { Table = 0 }, Ct);
        Assert.Contains(all, r => r.Table == RouteTables.Local);

        Assert.True(await s.Client.Routes.DeleteAsync(new RouteSpec(IPNetwork.Parse("10.244.2.0/24")) { Device = vx.Index }, Ct));
        Assert.False(await s.Client.Routes.DeleteAsync(new RouteSpec(IPNetwork.Parse("10.244.2.0/24")) { Device = vx.Index }, Ct));
        Assert.True(await s.Client.Routes.DeleteAsync(new RouteSpec(IPNetwork.Parse("10.250.0.0/16")) { Table = 100 }, Ct));
        Assert.Empty(s.Ns.IpJson("route", "show", "10.244.2.0/24").EnumerateArray());
        Assert.Empty(s.Ns.IpJson("route", "show", "table", "100").EnumerateArray());
    }

    [PrivilegedFact]
    public async Task RouteGetAndDefaultRouteMatchIproute2()
    {
        await using var s = NetnsScope.Create("rget");
        var eth0 = s.Underlay();
        Assert.Null(await s.Client.Routes.GetDefaultRouteAsync(AddressFamily.InterNetwork, Ct));
        Assert.Null(await s.Client.Routes.GetRouteToAsync(IPAddress.Parse("8.8.8.8"), Ct)); // unreachable
        await s.Client.Routes.ReplaceAsync(new RouteSpec(IPNetwork.Parse("0.0.0.0/0")) { Gateway = IPAddress.Parse("198.18.0.254"), Device = eth0 }, Ct);
        var def = await s.Client.Routes.GetDefaultRouteAsync(AddressFamily.InterNetwork, Ct);
        Assert.Equal(eth0, def!.OutputInterface);
        Assert.Equal("default", s.Ns.IpJson("route", "show", "default")[0].GetProperty("dst").GetString());

        var to = await s.Client.Routes.GetRouteToAsync(IPAddress.Parse("8.8.8.8"), Ct);
        Assert.NotNull(to);
        var j = s.Ns.IpJson("route", "get", "8.8.8.8")[0];
        Assert.Equal(j.GetProperty("gateway").GetString(), to.Gateway!.ToString());
        Assert.Equal(j.GetProperty("prefsrc").GetString(), to.PreferredSource!.ToString());
        Assert.Equal(eth0, to.OutputInterface);
        Assert.Equal(IPNetwork.Parse("8.8.8.8/32"), to.Destination);

        var direct = await s.Client.Routes.GetRouteToAsync(IPAddress.Parse("198.18.0.2"), Ct);
        Assert.Null(direct!.Gateway); // on-link: no gateway, as for DirectRouting
        Assert.Equal(IPAddress.Parse("198.18.0.1"), direct.PreferredSource);
    }

    [PrivilegedFact]
    public async Task KernelErrorsCarryExtendedAck()
    {
        await using var s = NetnsScope.Create("extack");
        var eth0 = s.Underlay();
        // a gateway that is not reachable on the device, without onlink
        var ex = await Assert.ThrowsAsync<NetlinkException>(async () =>
            await s.Client.Routes.AddAsync(new RouteSpec(IPNetwork.Parse("10.9.0.0/16")) { Gateway = IPAddress.Parse("10.200.0.1"), Device = eth0 }, Ct));
        Assert.Equal("RTM_NEWROUTE", ex.Operation);
        Assert.False(string.IsNullOrEmpty(ex.ExtendedAckMessage));
        Assert.Contains(ex.ExtendedAckMessage!, ex.Message, StringComparison.Ordinal);
    }
}
