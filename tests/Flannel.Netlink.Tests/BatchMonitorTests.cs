using System.Net;
using System.Net.NetworkInformation;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Netlink.Tests;

[Trait("Category", "Privileged")]
public class BatchMonitorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IPNetwork Subnet(int i) => new(new IPAddress([10, (byte)(128 + (i >> 8)), (byte)(i & 255), 0]), 24);

    [PrivilegedFact]
    public async Task BatchReportsEveryRequestAndMatchesIproute2()
    {
        await using var s = NetnsScope.Create("batch");
        var eth0 = s.Underlay();
        var vx = await s.Client.Links.CreateAsync(new VxlanLinkSpec("flannel.1", 1) { Device = eth0, Port = 8472, Learning = false, Up = true }, Ct);
        const int n = 3000; // spans several 64 KiB segments (one send each) and entry blocks
        var batch = s.Client.CreateBatch();
        for (var i = 0; i < n; i++)
        {
            var gw = Subnet(i).BaseAddress;
            batch.ReplaceRoute(new RouteSpec(Subnet(i)) { Gateway = gw, Device = vx.Index, OnLink = true });
            batch.ReplaceNeighbor(new NeighborSpec(vx.Index, gw, new PhysicalAddress([2, 0xa0, 0, 0, (byte)(i >> 8), (byte)i])));
            batch.ReplaceFdb(new FdbSpec(vx.Index, new PhysicalAddress([2, 0xa0, 0, 0, (byte)(i >> 8), (byte)i]), IPAddress.Parse("198.18.1.1")));
        }

        batch.AddRoute(new RouteSpec(Subnet(5)) { Gateway = Subnet(5).BaseAddress, Device = vx.Index, OnLink = true }); // EEXIST
        batch.ReplaceRoute(new RouteSpec(Subnet(n + 1)) { Device = 4242 });   // no such device
        var result = await batch.ExecuteAsync(Ct);
        Assert.Equal(3 * n + 2, result.Count);
        Assert.Equal(2, result.FailedCount);
        Assert.Equal(Errno.EEXIST, result[3 * n].Error);
        Assert.Equal("RTM_NEWROUTE", result[3 * n].Operation);
        Assert.Equal(Errno.ENODEV, result[(3 * n) + 1].Error);
        Assert.True(result[0].Succeeded);
        Assert.Throws<NetlinkException>(() => result.ThrowIfAnyFailed());

        Assert.Equal(n, s.Ns.IpJson("route", "show", "dev", "flannel.1").GetArrayLength());
        Assert.Equal(n, s.Ns.IpJson("neigh", "show", "dev", "flannel.1").GetArrayLength());
        Assert.Equal(n, s.Ns.BridgeJson("fdb", "show", "dev", "flannel.1").EnumerateArray().Count(e => e.TryGetProperty("dst", out _)));

        // reuse: delete all routes, plus one that never existed
        batch.Clear();
        for (var i = 0; i < n; i++)
        {
            batch.DeleteRoute(new RouteSpec(Subnet(i)) { Device = vx.Index });
        }

        batch.DeleteRoute(new RouteSpec(Subnet(n + 7)) { Device = vx.Index });
        result = await batch.ExecuteAsync(Ct);
        Assert.Equal(0, result.FailedCount);
        Assert.True(result[0].Deleted);
        Assert.False(result[n].Deleted);
        Assert.True(result[n].Succeeded);
        Assert.Empty(s.Ns.IpJson("route", "show", "dev", "flannel.1").EnumerateArray());
    }

    [PrivilegedFact]
    public async Task MonitorSeesARouteDeletedByIproute2()
    {
        await using var s = NetnsScope.Create("mon");
        s.Underlay();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(20));
        await using var e = s.Client.WatchAsync(RtnetlinkGroups.IPv4Route | RtnetlinkGroups.Link, cts.Token).GetAsyncEnumerator(cts.Token);
        var next = e.MoveNextAsync(); // subscribes
        s.Ns.Ip("route", "add", "10.77.0.0/16", "via", "198.18.0.2", "dev", "eth0");
        s.Ns.Ip("route", "del", "10.77.0.0/16");
        var seen = new List<RtnetlinkEvent>();
        while (await next)
        {
            seen.Add(e.Current);
            if (e.Current is RouteEvent { Change: RtnetlinkChange.Removed } r && r.Route.Destination == IPNetwork.Parse("10.77.0.0/16"))
            {
                Assert.Equal(IPAddress.Parse("198.18.0.2"), r.Route.Gateway);
                break;
            }

            next = e.MoveNextAsync();
        }

        Assert.Contains(seen, x => x is RouteEvent { Change: RtnetlinkChange.Added } a && a.Route.Destination == IPNetwork.Parse("10.77.0.0/16"));
    }

    [PrivilegedFact]
    public async Task MonitorOverflowIsReportedAsResyncAndWatchingContinues()
    {
        await using var s = NetnsScope.Create("enobuf", configure: o => o.MonitorBufferSize = 4096);
        var eth0 = s.Underlay();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        await using var e = s.Client.WatchAsync(RtnetlinkGroups.IPv4Route, cts.Token).GetAsyncEnumerator(cts.Token);
        var first = e.MoveNextAsync();
        await s.Client.Routes.ReplaceAsync(new RouteSpec(IPNetwork.Parse("10.99.0.0/24")) { Gateway = IPAddress.Parse("198.18.0.2"), Device = eth0 }, Ct);
        Assert.True(await first);

        // while nobody reads the monitor socket, flood it
        var batch = s.Client.CreateBatch();
        for (var i = 0; i < 2000; i++)
        {
            batch.ReplaceRoute(new RouteSpec(Subnet(i)) { Gateway = IPAddress.Parse("198.18.0.2"), Device = eth0 });
        }

        (await batch.ExecuteAsync(Ct)).ThrowIfAnyFailed();
        var sawResync = false;
        for (var k = 0; k < 5000 && await e.MoveNextAsync(); k++)
        {
            if (e.Current is ResyncEvent { Reason: "ENOBUFS" })
            {
                sawResync = true;
                break;
            }
        }

        Assert.True(sawResync);
        // still alive after the resync: drain what is queued (the kernel drops while the queue is congested), then change something
        Task<bool> pending;
        while (true)
        {
            pending = e.MoveNextAsync().AsTask();
            if (await Task.WhenAny(pending, Task.Delay(500, Ct)) != pending)
            {
                break;
            }

            Assert.True(await pending);
        }

        s.Ns.Ip("route", "del", "10.99.0.0/24");
        var has = await pending;
        while (has)
        {
            if (e.Current is RouteEvent { Change: RtnetlinkChange.Removed } r && r.Route.Destination == IPNetwork.Parse("10.99.0.0/24"))
            {
                return;
            }

            has = await e.MoveNextAsync();
        }

        Assert.Fail("no event after the resync");
    }

    [PrivilegedFact]
    public async Task MonitorReportsNeighbourAndFdbChangesMadeByIproute2()
    {
        await using var s = NetnsScope.Create("monnb");
        s.Underlay();
        s.Ns.Ip("link", "add", "flannel.1", "type", "vxlan", "id", "1", "dev", "eth0", "dstport", "8472", "nolearning");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(20));
        await using var e = s.Client.WatchAsync(RtnetlinkGroups.Neighbor | RtnetlinkGroups.Link | RtnetlinkGroups.IPv4Address, cts.Token).GetAsyncEnumerator(cts.Token);
        var next = e.MoveNextAsync();
        s.Ns.Ip("neigh", "add", "198.18.0.7", "lladdr", "02:a0:00:00:00:07", "dev", "eth0", "nud", "permanent");
        Shell.Check("bridge", "-n", s.Ns.Name, "fdb", "add", "02:a0:00:00:00:08", "dev", "flannel.1", "dst", "198.18.0.8", "self", "permanent");
        s.Ns.Ip("addr", "add", "10.244.5.0/32", "dev", "flannel.1");
        bool neigh = false, fdb = false, addr = false;
        while (!(neigh && fdb && addr) && await next)
        {
            switch (e.Current)
            {
                case NeighborEvent { Change: RtnetlinkChange.Added } n when n.Neighbor.Address.Equals(IPAddress.Parse("198.18.0.7")):
                    Assert.Equal(NeighborState.Permanent, n.Neighbor.State);
                    neigh = true;
                    break;
                case FdbEvent { Change: RtnetlinkChange.Added } f when IPAddress.Parse("198.18.0.8").Equals(f.Entry.Destination):
                    Assert.Equal(PhysicalAddress.Parse("02-a0-00-00-00-08"), f.Entry.LinkAddress);
                    fdb = true;
                    break;
                case AddressEvent { Change: RtnetlinkChange.Added } a when a.Address.Address.Equals(IPAddress.Parse("10.244.5.0")):
                    addr = true;
                    break;
            }

            if (!(neigh && fdb && addr))
            {
                next = e.MoveNextAsync(); // (no MoveNext may be pending when the enumerator is disposed)
            }
        }

        Assert.True(neigh && fdb && addr, $"neigh {neigh} fdb {fdb} addr {addr}");
    }
}
