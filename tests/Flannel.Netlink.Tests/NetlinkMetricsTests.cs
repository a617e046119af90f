using System.Net;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Netlink.Tests;

/// <summary>The <c>Flannel.Netlink</c> instruments, read through a MeterListener, count what the kernel in a private namespace answered.</summary>
public sealed class NetlinkMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IPNetwork Subnet(int i) => new(new IPAddress([10, (byte)(128 + (i >> 8)), (byte)(i & 255), 0]), 24);

    [PrivilegedFact]
    public async Task Requests_failures_dumps_and_monitor_resyncs_are_counted_by_message_type()
    {
        using var probe = new MetricsProbe();
        await using var s = NetnsScope.Create("nlmet", configure: o => { o.MeterFactory = probe; o.MonitorBufferSize = 4096; });
        var eth0 = s.Underlay();
        var gw = IPAddress.Parse("198.18.0.2");
        double Requests(string op) => probe.Sum("flannel.netlink.requests", ("op", op));
        double Failures(string op) => probe.Sum("flannel.netlink.failures", ("op", op));

        // Single requests: an add, the same add again (EEXIST: a failure), a delete of something missing (an answer, not a failure).
        await s.Client.Routes.AddAsync(new RouteSpec(Subnet(0)) { Gateway = gw, Device = eth0 }, Ct);
        await Assert.ThrowsAsync<NetlinkException>(async () => await s.Client.Routes.AddAsync(new RouteSpec(Subnet(0)) { Gateway = gw, Device = eth0 }, Ct));
        Assert.False(await s.Client.Routes.DeleteAsync(new RouteSpec(Subnet(1)), Ct));
        Assert.Equal(2, Requests("RTM_NEWROUTE"));
        Assert.Equal(1, Failures("RTM_NEWROUTE"));
        Assert.Equal(1, Requests("RTM_DELROUTE"));
        Assert.Equal(0, Failures("RTM_DELROUTE"));

        // A dump.
        var routes = await s.Client.Routes.ListAsync(new RouteFilter { Table = RouteTables.Main }, Ct);
        Assert.Contains(routes, r => r.Destination == Subnet(0));
        Assert.Equal(1, probe.Sum("flannel.netlink.dumps", ("op", "RTM_GETROUTE")));
        Assert.Equal(1, Requests("RTM_GETROUTE"));

        // A batch: three adds, one of them refused (exists already), one delete of a missing route (not a failure).
        var batch = s.Client.CreateBatch();
        batch.AddRoute(new RouteSpec(Subnet(0)) { Gateway = gw, Device = eth0 });
        batch.AddRoute(new RouteSpec(Subnet(2)) { Gateway = gw, Device = eth0 });
        batch.AddRoute(new RouteSpec(Subnet(3)) { Gateway = gw, Device = eth0 });
        batch.DeleteRoute(new RouteSpec(Subnet(9)));
        var result = await batch.ExecuteAsync(Ct);
        Assert.Equal(1, result.FailedCount);
        Assert.Equal(5, Requests("RTM_NEWROUTE"));
        Assert.Equal(2, Failures("RTM_NEWROUTE"));
        Assert.Equal(2, Requests("RTM_DELROUTE"));
        Assert.Equal(0, Failures("RTM_DELROUTE"));
        Assert.Equal(0, probe.Sum("flannel.netlink.monitor_resyncs"));

        // A monitor nobody reads while 2,000 routes change overflows: one resync counted.
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        await using var e = s.Client.WatchAsync(RtnetlinkGroups.IPv4Route, cts.Token).GetAsyncEnumerator(cts.Token);
        var first = e.MoveNextAsync();
        await s.Client.Routes.ReplaceAsync(new RouteSpec(Subnet(4)) { Gateway = gw, Device = eth0 }, Ct);
        Assert.True(await first);
        var flood = s.Client.CreateBatch();
        for (var i = 10; i < 2010; i++)
        {
            flood.ReplaceRoute(new RouteSpec(Subnet(i)) { Gateway = gw, Device = eth0 });
        }

        (await flood.ExecuteAsync(Ct)).ThrowIfAnyFailed();
        var sawResync = false;
        for (var k = 0; k < 5000 && !sawResync && await e.MoveNextAsync(); k++)
        {
            sawResync = e.Current is ResyncEvent;
        }

        Assert.True(sawResync);
        Assert.Equal(1, probe.Sum("flannel.netlink.monitor_resyncs"));
        Assert.Equal(2006, Requests("RTM_NEWROUTE"));
        Assert.Equal(2, Failures("RTM_NEWROUTE"));
    }
}
