using System.Net;
using Flannel.Kernel;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Netlink.Tests;

/// <summary>
/// The shared <see cref="RouteTableContract"/> run against the kernel's main table in a private namespace: eth0
/// (198.18.0.1/15, fd18::1/64) carries the gateways and flannel.1 (vxlan, up) the on-link routes.
/// </summary>
[Trait("Category", "Privileged")]
public sealed class KernelRouteTableContractTests : RouteTableContract, IAsyncDisposable
{
    private NetnsScope? _scope;
    private KernelRouteTable? _table;

    protected override async Task<IRouteTable> CreateAsync()
    {
        Assert.SkipUnless(Privileges.Available || Privileges.Required, Privileges.SkipReason);
        _scope = NetnsScope.Create("krt", ipv6: true);
        var eth0 = _scope.Underlay();
        _scope.Ns.Ip("addr", "add", "fd18::1/64", "dev", "eth0", "nodad");
        await _scope.Client.Links.CreateAsync(new VxlanLinkSpec("flannel.1", 1) { Device = eth0, Port = 8472, Learning = false, Up = true }, TestContext.Current.CancellationToken);
        _table = new KernelRouteTable(new KernelRouteTableOptions { Namespace = _scope.Handle });
        return _table;
    }

    public async ValueTask DisposeAsync()
    {
        if (_table is not null)
        {
            await _table.DisposeAsync();
        }

        if (_scope is not null)
        {
            await _scope.DisposeAsync();
        }
    }
}

[Trait("Category", "Privileged")]
public class KernelRouteTableTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task DeviceScopeAndProtocolLimitWhatTheTableSeesAndTouches()
    {
        await using var s = NetnsScope.Create("krtscope");
        var eth0 = s.Underlay();
        await s.Client.Links.CreateAsync(new VxlanLinkSpec("flannel.1", 1) { Device = eth0, Learning = false, Up = true }, Ct);
        // someone else's route (protocol static) and one on another device
        s.Ns.Ip("route", "add", "10.9.0.0/16", "via", "198.18.0.2", "dev", "eth0");
        s.Ns.Ip("route", "add", "10.8.0.0/16", "via", "10.8.0.1", "dev", "flannel.1", "onlink", "proto", "static");
        await using var table = new KernelRouteTable(s.Client, new KernelRouteTableOptions { Device = "flannel.1", Protocol = (RouteProtocol)0x6c, Table = 254 });
        Assert.Empty(await table.ListAsync(Ct));
        var route = new OverlayRoute(IPNetwork.Parse("10.244.2.0/24")) { Gateway = IPAddress.Parse("10.244.2.0"), OnLink = true };
        await table.ReplaceAsync(route, Ct);
        var listed = Assert.Single(await table.ListAsync(Ct));
        Assert.Equal("flannel.1", listed.Device); // the scope's device was used
        Assert.True(listed.OnLink);
        Assert.Equal(254, listed.Table);
        var j = s.Ns.IpJson("route", "show", "10.244.2.0/24")[0];
        Assert.Equal("flannel.1", j.GetProperty("dev").GetString());
        Assert.Equal("108", j.GetProperty("protocol").GetString());

        Assert.False(await table.DeleteAsync(new OverlayRoute(IPNetwork.Parse("10.8.0.0/16")), Ct)); // not ours: left alone
        Assert.Single(s.Ns.IpJson("route", "show", "10.8.0.0/16").EnumerateArray());
        Assert.True(await table.DeleteAsync(route, Ct));
        Assert.False(await table.DeleteAsync(route, Ct));
        await Assert.ThrowsAsync<FlannelException>(async () => await table.ReplaceAsync(route with { Device = "nope0" }, Ct));
    }
}
