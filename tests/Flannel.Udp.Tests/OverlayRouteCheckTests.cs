using System.Net;
using System.Net.Sockets;
using Flannel.Netlink;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Udp.Tests;

/// <summary>
/// The health check's in-place route lookup against a real kernel table: it finds exactly what the former
/// <c>Routes.ListAsync</c> + LINQ predicate found, near misses included, and allocates nothing per route.
/// </summary>
[Trait("Category", "Privileged")]
public sealed class OverlayRouteCheckTests
{
    private static readonly IPNetwork Overlay = IPNetwork.Parse("10.244.0.0/16");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task FindsTheOverlayRouteThroughTheDeviceLikeTheListDidAndAllocatesNothingPerRoute()
    {
        using var ns = TestNamespace.Create("udproute");
        ns.Ip("link", "add", "flannel0", "type", "veth", "peer", "name", "other0"); // no dummy module on this kernel
        ns.Ip("link", "set", "flannel0", "up");
        ns.Ip("link", "set", "other0", "up");
        using var handle = Flannel.Netlink.NetworkNamespace.OpenByPath(ns.Path);
        await using var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = handle });
        var tun = (await rtnl.Links.GetAsync("flannel0", Ct))!.Index;
        var check = new OverlayRouteCheck(Overlay);

        async Task<bool> VisitAsync()
        {
            check.Reset(tun);
            await rtnl.Routes.VisitAsync(check.Filter, check, Ct);
            return check.Found;
        }

        // What UdpNetwork did before: list the main IPv4 table and compare decoded routes.
        async Task<bool> ListAsync() =>
            (await rtnl.Routes.ListAsync(new RouteFilter { Family = AddressFamily.InterNetwork, Table = RouteTables.Main }, Ct))
            .Any(r => r.Destination.Equals(Overlay) && r.OutputInterface == tun);

        // Near misses, one at a time: another device, a shorter and a longer prefix, a neighbouring network,
        // another table, and an IPv6 route; none of them is the overlay route.
        string[][] nearMisses =
        [
            ["route", "add", "10.244.0.0/16", "dev", "other0", "metric", "50"],
            ["route", "add", "10.244.0.0/15", "dev", "flannel0"],
            ["route", "add", "10.244.0.0/17", "dev", "flannel0"],
            ["route", "add", "10.245.0.0/16", "dev", "flannel0"],
            ["route", "add", "10.244.0.0/16", "dev", "flannel0", "table", "100"],
            ["-6", "route", "add", "fd00:a:f4::/48", "dev", "flannel0"],
        ];
        foreach (var miss in nearMisses)
        {
            ns.Ip(miss);
            Assert.False(await ListAsync(), string.Join(' ', miss));
            Assert.False(await VisitAsync(), string.Join(' ', miss));
        }

        ns.Ip("route", "add", "10.244.0.0/16", "dev", "flannel0");
        Assert.True(await ListAsync());
        Assert.True(await VisitAsync());

        // A large main table: 2,000 more routes through the device. Listing allocates per route; the visit does not.
        var batch = rtnl.CreateBatch();
        for (var i = 0; i < 2000; i++)
        {
            batch.AddRoute(new RouteSpec(new IPNetwork(new IPAddress([10, (byte)(128 + (i >> 8)), (byte)i, 0]), 24)) { Device = tun });
        }

        (await batch.ExecuteAsync(Ct)).ThrowIfAnyFailed();
        Assert.True(await ListAsync());
        Assert.True(await VisitAsync()); // warm

        // Dump replies are queued by the kernel when send()/recv() return, so both calls run on this thread.
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(await ListAsync());
        var listed = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(await VisitAsync());
        var visited = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(listed > 2000 * 50, $"listing 2,000+ routes allocated only {listed} bytes on this thread: the measurement missed the dump");
        Assert.True(visited < 2048, $"visiting 2,000+ routes allocated {visited} bytes");

        ns.Ip("route", "del", "10.244.0.0/16", "dev", "flannel0");
        Assert.False(await ListAsync());
        Assert.False(await VisitAsync());
    }
}
