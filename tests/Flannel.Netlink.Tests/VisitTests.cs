using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Netlink.Tests;

/// <summary>The in-place dumps (VisitAsync) against the real kernel: they see exactly what the List calls see, without allocating.</summary>
[Trait("Category", "Privileged")]
public class VisitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task VisitingRoutesNeighboursAndFdbSeesWhatListingSees()
    {
        await using var s = NetnsScope.Create("visit", ipv6: true);
        var eth0 = s.Underlay();
        var vx = await s.Client.Links.CreateAsync(new VxlanLinkSpec("flannel.1", 1) { Device = eth0, Port = 8472, Learning = false }, Ct);
        await s.Client.Links.SetUpAsync(vx.Index, Ct);
        var batch = s.Client.CreateBatch();
        for (var i = 1; i <= 250; i++)
        {
            var gw = IPAddress.Parse($"10.244.{i}.0");
            var mac = PhysicalAddress.Parse($"02-a0-00-00-{i >> 8:x2}-{i & 0xff:x2}");
            batch.ReplaceNeighbor(new NeighborSpec(vx.Index, gw, mac));
            batch.ReplaceFdb(new FdbSpec(vx.Index, mac, IPAddress.Parse($"198.18.{i >> 8}.{i & 0xff}")));
            batch.ReplaceRoute(new RouteSpec(IPNetwork.Parse($"10.244.{i}.0/24")) { Gateway = gw, Device = vx.Index, OnLink = true, Protocol = (RouteProtocol)77, Metric = (uint)i });
        }

        (await batch.ExecuteAsync(Ct)).ThrowIfAnyFailed();
        await s.Client.Routes.ReplaceAsync(new RouteSpec(IPNetwork.Parse("fd10::/64")) { Device = eth0 }, Ct);

        var routes = new CollectingVisitor();
        await s.Client.Routes.VisitAsync(new RouteFilter { Table = 0 }, routes, Ct);
        Assert.Equal(1, routes.Starts);
        Assert.Equal((await s.Client.Routes.ListAsync(new RouteFilter { Table = 0 }, Ct)).Select(Comparable), routes.Routes.Select(Comparable));
        Assert.Equal(250, routes.Routes.Count(r => r.Protocol == (RouteProtocol)77 && r.OnLink && r.OutputInterface == vx.Index));
        Assert.Contains(routes.Routes, r => r.Destination == IPNetwork.Parse("fd10::/64"));

        var neighbors = new CollectingVisitor();
        await s.Client.Neighbors.VisitAsync(vx.Index, AddressFamily.InterNetwork, neighbors, Ct);
        Assert.Equal(await s.Client.Neighbors.ListAsync(vx.Index, AddressFamily.InterNetwork, Ct), neighbors.Neighbors);
        Assert.Equal(250, neighbors.Neighbors.Count);

        var fdb = new CollectingVisitor();
        await s.Client.Fdb.VisitAsync(vx.Index, fdb, Ct);
        Assert.Equal(await s.Client.Fdb.ListAsync(vx.Index, Ct), fdb.Fdb);
        Assert.Equal(250, fdb.Fdb.Count);

        // The spans are the wire bytes: visitors that only compare spans allocate nothing per entry.
        var (r4, n4, f4) = (new MatchCounter(vx.Index), new MatchCounter(vx.Index), new MatchCounter(vx.Index));
        var v4 = new RouteFilter { Family = AddressFamily.InterNetwork };
        await s.Client.Routes.VisitAsync(v4, r4, Ct); // warm up (first-call JIT and caches)
        await s.Client.Neighbors.VisitAsync(vx.Index, AddressFamily.InterNetwork, n4, Ct);
        await s.Client.Fdb.VisitAsync(vx.Index, f4, Ct);
        var before = GC.GetAllocatedBytesForCurrentThread();
        await s.Client.Routes.VisitAsync(v4, r4, Ct);
        await s.Client.Neighbors.VisitAsync(vx.Index, AddressFamily.InterNetwork, n4, Ct);
        await s.Client.Fdb.VisitAsync(vx.Index, f4, Ct);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal((250, 250, 250), (r4.Count, n4.Count, f4.Count));
        Assert.True(allocated < 4096, $"three dumps of 250 entries allocated {allocated} bytes on the calling thread");
    }

    [PrivilegedFact]
    public async Task A_dump_abandoned_part_way_does_not_block_the_next_one()
    {
        // 2,000 routes span many datagrams: a visitor that throws on the first, or a cancellation, leaves the kernel's
        // dump running on the socket; the client reads it to its end so that the next dump is not refused (EBUSY).
        await using var s = NetnsScope.Create("visit-abandon");
        var eth0 = s.Underlay();
        var batch = s.Client.CreateBatch();
        for (var i = 0; i < 2000; i++)
        {
            batch.ReplaceRoute(new RouteSpec(new IPNetwork(new IPAddress([10, (byte)(100 + (i >> 8)), (byte)(i & 255), 0]), 24)) { Gateway = IPAddress.Parse("198.18.0.2"), Device = eth0 });
        }

        (await batch.ExecuteAsync(Ct)).ThrowIfAnyFailed();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await s.Client.Routes.VisitAsync(null, new Throwing(), Ct));
        Assert.True((await s.Client.Routes.ListAsync(null, Ct)).Count >= 2000);

        using var cts = new CancellationTokenSource();
        var cancelling = new Cancelling(cts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await s.Client.Routes.VisitAsync(null, cancelling, cts.Token));
        var counter = new MatchCounter(eth0);
        await s.Client.Neighbors.VisitAsync(eth0, null, counter, Ct); // another kind of dump right after
        Assert.True((await s.Client.Routes.ListAsync(null, Ct)).Count >= 2000);
    }

    [PrivilegedFact]
    public async Task A_visitor_throwing_in_the_last_datagram_does_not_wait_for_a_dump_end_already_read()
    {
        // A few entries fit in one datagram, and the kernel appends NLMSG_DONE to it: when the visitor throws there,
        // the dump has already ended and nothing is left to drain (waiting would stall every caller for the timeout).
        var logs = new RecordingLoggerFactory();
        await using var s = NetnsScope.Create("visit-last", configure: o => o.LoggerFactory = logs);
        var eth0 = s.Underlay();
        for (var i = 1; i <= 3; i++)
        {
            await s.Client.Neighbors.ReplaceAsync(new NeighborSpec(eth0, IPAddress.Parse($"198.18.1.{i}"), PhysicalAddress.Parse($"02-b0-00-00-00-{i:x2}")), Ct);
        }

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await s.Client.Neighbors.VisitAsync(eth0, AddressFamily.InterNetwork, new Throwing(), Ct));
        Assert.DoesNotContain(2004, logs.EventIds);
        Assert.Equal(3, (await s.Client.Neighbors.ListAsync(eth0, AddressFamily.InterNetwork, Ct)).Count(n => n.LinkAddress?.GetAddressBytes()[0] == 0x02));
    }

    private sealed class RecordingLoggerFactory : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<int> _ids = new();

        public IReadOnlyCollection<int> EventIds => _ids;

        public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
        {
        }

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _ids.Enqueue(eventId.Id);
    }

    private sealed class Throwing : IRouteVisitor, INeighborVisitor
    {
        public void OnDumpStarted()
        {
        }

        public void Visit(in RouteMessage route) => throw new InvalidOperationException("visitor gave up");

        public void Visit(in NeighborMessage neighbor) => throw new InvalidOperationException("visitor gave up");
    }

    private sealed class Cancelling(CancellationTokenSource cts) : IRouteVisitor
    {
        public void OnDumpStarted()
        {
        }

        public void Visit(in RouteMessage route) => cts.Cancel();
    }

    /// <summary>A route's value with its undecoded attributes as text (the record compares their list by reference).</summary>
    private static (Route, string) Comparable(Route r) =>
        (r with { UnknownAttributes = [] }, string.Join(",", r.UnknownAttributes.Select(a => $"{a.Type}:{Convert.ToHexString(a.Value)}")));

    private sealed class CollectingVisitor : IRouteVisitor, INeighborVisitor, IFdbVisitor
    {
        public int Starts { get; private set; }

        public List<Route> Routes { get; } = [];

        public List<Neighbor> Neighbors { get; } = [];

        public List<FdbEntry> Fdb { get; } = [];

        public void OnDumpStarted()
        {
            Starts++;
            Routes.Clear();
            Neighbors.Clear();
            Fdb.Clear();
        }

        public void Visit(in RouteMessage route) => Routes.Add(route.ToRoute());

        public void Visit(in NeighborMessage neighbor) => Neighbors.Add(neighbor.ToNeighbor());

        public void Visit(in FdbMessage entry) => Fdb.Add(entry.ToFdbEntry());
    }

    private sealed class MatchCounter(int index) : IRouteVisitor, INeighborVisitor, IFdbVisitor
    {
        public int Count { get; private set; }

        public void OnDumpStarted() => Count = 0;

        public void Visit(in RouteMessage route)
        {
            // 10.244.i.0/24 onlink via 10.244.i.0: the gateway's bytes equal the destination's.
            if (route.OutputInterface == index && route.DestinationLength == 24 && route.Gateway.SequenceEqual(route.Destination) && route.Destination[0] == 10)
            {
                Count++;
            }
        }

        public void Visit(in NeighborMessage neighbor)
        {
            if (neighbor.InterfaceIndex == index && neighbor.LinkAddress.Length == 6 && neighbor.LinkAddress[0] == 0x02 && neighbor.Address[3] == 0)
            {
                Count++;
            }
        }

        public void Visit(in FdbMessage entry)
        {
            if (entry.LinkAddress[0] == 0x02 && entry.Destination.Length == 4 && entry.Destination[0] == 198 && (entry.State & NeighborState.Permanent) != 0)
            {
                Count++;
            }
        }
    }
}
