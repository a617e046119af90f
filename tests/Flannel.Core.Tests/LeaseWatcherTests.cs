using System.Net;
using Flannel.Internal;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Flannel.Core.Tests;

public class LeaseWatcherTests
{
    private static readonly NetworkConfig Config = NetworkConfig.Parse("""{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}""");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Lease L(string v4, int host, string? v6 = null) => new()
    {
        Subnet = v4.Length > 0 ? IPNetwork.Parse(v4) : null,
        IPv6Subnet = v6 is null ? null : IPNetwork.Parse(v6),
        Attributes = new LeaseAttributes { PublicIP = new IPAddress([198, 18, 0, (byte)host]), BackendType = "host-gw" },
    };

    [Fact]
    public void SnapshotDiffing()
    {
        var own = L("10.5.1.0/24", 1);
        var cache = new PeerLeaseCache(own);
        var first = cache.Reset([own, L("10.5.2.0/24", 2), L("10.5.3.0/24", 3)]);
        Assert.Equal([LeaseEventKind.Added, LeaseEventKind.Added], first.Select(e => e.Kind));
        Assert.DoesNotContain(first, e => e.Lease.Subnet == own.Subnet);

        // 10.5.2.0 unchanged (only renewed), 10.5.3.0 gone, 10.5.4.0 new, 10.5.5.0 none.
        var second = cache.Reset([own, L("10.5.2.0/24", 2) with { Expiration = DateTimeOffset.UnixEpoch, Revision = 99 }, L("10.5.4.0/24", 4)]);
        Assert.Equal(2, second.Count);
        Assert.Contains(second, e => e.Kind == LeaseEventKind.Added && e.Lease.Subnet == IPNetwork.Parse("10.5.4.0/24"));
        var removed = Assert.Single(second, e => e.Kind == LeaseEventKind.Removed);
        Assert.Equal(IPAddress.Parse("198.18.0.3"), removed.Lease.Attributes.PublicIP);

        // Changed attributes of a known lease in a snapshot are reported (flannel drops them).
        var third = cache.Reset([L("10.5.2.0/24", 22), L("10.5.4.0/24", 4)]);
        var changed = Assert.Single(third);
        Assert.Equal(LeaseEventKind.Added, changed.Kind);
        Assert.Equal(IPAddress.Parse("198.18.0.22"), changed.Lease.Attributes.PublicIP);
    }

    [Fact]
    public void EventsCarryLastKnownAttributesAndOwnIsFiltered()
    {
        var own = L("10.5.1.0/24", 1);
        var cache = new PeerLeaseCache(own);
        var added = cache.Apply([new(LeaseEventKind.Added, L("10.5.2.0/24", 2)), new(LeaseEventKind.Added, own)]);
        Assert.Single(added);

        // Renewal of a known lease with identical content: not re-emitted. Changed content: re-emitted.
        Assert.Empty(cache.Apply([new(LeaseEventKind.Added, L("10.5.2.0/24", 2) with { Revision = 7 })]));
        var changed = cache.Apply([new(LeaseEventKind.Added, L("10.5.2.0/24", 20))]);
        Assert.Equal(IPAddress.Parse("198.18.0.20"), Assert.Single(changed).Lease.Attributes.PublicIP);

        // A delete carries only the subnet; the cache supplies the attributes.
        var removed = cache.Apply([new(LeaseEventKind.Removed, new Lease { Subnet = IPNetwork.Parse("10.5.2.0/24") })]);
        Assert.Equal(IPAddress.Parse("198.18.0.20"), Assert.Single(removed).Lease.Attributes.PublicIP);

        // Unknown subnet: passed through without attributes. Own removal: filtered.
        var unknown = cache.Apply([new(LeaseEventKind.Removed, new Lease { Subnet = IPNetwork.Parse("10.5.9.0/24") }), new(LeaseEventKind.Removed, own)]);
        Assert.Null(Assert.Single(unknown).Lease.Attributes.PublicIP);
        Assert.Empty(cache.Leases);
    }

    [Fact]
    public void SubnetIdentityRules()
    {
        var v4 = L("10.5.1.0/24", 1);
        var dual = L("10.5.1.0/24", 1, "fc00:0:0:1::/64");
        var dualOther6 = L("10.5.1.0/24", 1, "fc00:0:0:2::/64");
        var v6Only = L("", 1, "fc00:0:0:1::/64");
        Assert.True(PeerLeaseCache.SameSubnets(v4, dual));
        Assert.True(PeerLeaseCache.SameSubnets(dual, dual));
        Assert.False(PeerLeaseCache.SameSubnets(dual, dualOther6));
        Assert.True(PeerLeaseCache.SameSubnets(v6Only, dual));
        Assert.False(PeerLeaseCache.SameSubnets(v6Only, dualOther6));

        var cache = new PeerLeaseCache(dual);
        Assert.Single(cache.Apply([new(LeaseEventKind.Added, dualOther6)]));
        Assert.Empty(cache.Apply([new(LeaseEventKind.Added, dual)]));
    }

    [Fact]
    public async Task WatchPeersOverALeaseManager()
    {
        using var registry = new InMemoryLeaseRegistry(Config, _time);
        var a = new LeaseManager(registry, new LeaseManagerOptions { TimeProvider = _time, Ttl = TimeSpan.FromMinutes(10) });
        var own = await a.AcquireLeaseAsync(new LeaseRequest(L("", 1).Attributes), Ct);
        var peer = await a.AcquireLeaseAsync(new LeaseRequest(L("", 2).Attributes), Ct);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        await using var watch = LeaseWatcher.WatchPeersAsync(a, own, cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await watch.MoveNextAsync());
        var first = Assert.Single(watch.Current);
        Assert.Equal(peer.Subnet, first.Lease.Subnet);

        // Own renewal: filtered. Peer expiry: Removed with its attributes.
        _time.Advance(TimeSpan.FromMinutes(5));
        await a.RenewLeaseAsync(own, Ct);
        _time.Advance(TimeSpan.FromMinutes(6));
        Assert.True(await watch.MoveNextAsync());
        var gone = Assert.Single(watch.Current);
        Assert.Equal(LeaseEventKind.Removed, gone.Kind);
        Assert.Equal(peer.Subnet, gone.Lease.Subnet);
        Assert.Equal(IPAddress.Parse("198.18.0.2"), gone.Lease.Attributes.PublicIP);
    }

    [Fact]
    public async Task WatchOwnLeaseReportsRenewalAndRemoval()
    {
        using var registry = new InMemoryLeaseRegistry(Config, _time);
        var manager = new LeaseManager(registry, new LeaseManagerOptions { TimeProvider = _time, Ttl = TimeSpan.FromMinutes(10) });
        var own = await manager.AcquireLeaseAsync(new LeaseRequest(L("", 1).Attributes), Ct);
        await manager.AcquireLeaseAsync(new LeaseRequest(L("", 2).Attributes), Ct);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(30));
        await using var watch = LeaseWatcher.WatchOwnLeaseAsync(manager, own, cts.Token).GetAsyncEnumerator(cts.Token);
        _time.Advance(TimeSpan.FromMinutes(1));
        var renewed = await manager.RenewLeaseAsync(own, Ct);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(LeaseEventKind.Added, watch.Current.Kind);
        Assert.Equal(renewed.Expiration, watch.Current.Lease.Expiration);

        await manager.ReleaseLeaseAsync(own, Ct);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(LeaseEventKind.Removed, watch.Current.Kind);
        Assert.Equal(own.Attributes, watch.Current.Lease.Attributes);
    }
}
