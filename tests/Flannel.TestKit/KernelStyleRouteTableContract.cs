using System.Net.Sockets;
using Xunit;

namespace Flannel.TestKit;

/// <summary>
/// <see cref="RouteTableContract"/> plus what a kernel-style table must also hold: IPv6 routes, blackhole routes and
/// on-link routes. Cloud VPC tables (IPv4 destination → next hop only) run the base contract; tables that hold
/// these kinds of routes (the kernel's, the in-memory one) run this one, so nothing is skipped for lack of a
/// capability.
/// </summary>
public abstract class KernelStyleRouteTableContract : RouteTableContract
{
    /// <summary>IPv6 routes are added, replaced and deleted like IPv4 ones, side by side.</summary>
    [Fact]
    public async Task IPv6RoutesWork()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var v4 = Route(Destination(AddressFamily.InterNetwork, 9), 0);
        var dst6 = Destination(AddressFamily.InterNetworkV6, 0);
        await ReplaceAsync(table, v4);
        await ReplaceAsync(table, Route(dst6, 0));
        var v6 = Route(dst6, 1);
        await ReplaceAsync(table, v6);
        await AssertHoldsExactly(table, baseline, v4, v6);
        Assert.True(await DeleteAsync(table, v6));
        Assert.False(await DeleteAsync(table, v6));
        await AssertHoldsExactly(table, baseline, v4);
    }

    /// <summary>A blackhole route is listed as a blackhole and can replace (and be replaced by) a unicast route.</summary>
    [Fact]
    public async Task BlackholeRoutes()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var dst = Destination(AddressFamily.InterNetwork, 10);
        var hole = BlackholeRoute(dst);
        await ReplaceAsync(table, hole);
        await AssertHoldsExactly(table, baseline, hole);
        var unicast = Route(dst, 0);
        await ReplaceAsync(table, unicast);
        await AssertHoldsExactly(table, baseline, unicast);
        await ReplaceAsync(table, hole);
        await AssertHoldsExactly(table, baseline, hole);
        Assert.True(await DeleteAsync(table, hole));
        await AssertHoldsExactly(table, baseline);
    }

    /// <summary>An on-link route keeps its flag and device.</summary>
    [Fact]
    public async Task OnLinkRoutes()
    {
        var table = await CreateAsync();
        var baseline = await ListAsync(table);
        var route = OnLinkRoute(Destination(AddressFamily.InterNetwork, 11));
        await ReplaceAsync(table, route);
        await AssertHoldsExactly(table, baseline, route);
        var listed = (await ListAsync(table)).Single(r => r.Destination.Equals(route.Destination));
        Assert.True(listed.OnLink, $"listed route {listed} lost the onlink flag");
        Assert.True(await DeleteAsync(table, route));
    }
}
