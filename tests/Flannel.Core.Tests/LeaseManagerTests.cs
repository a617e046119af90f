using System.Net;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Flannel.Core.Tests;

public class LeaseManagerTests
{
    private static readonly NetworkConfig Config = NetworkConfig.Parse("""{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}""");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    private static LeaseAttributes Node(int host) => new() { PublicIP = new IPAddress([198, 18, 1, (byte)host]), BackendType = "host-gw" };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task LostRaceIsRetriedNotFatal()
    {
        using var inner = new InMemoryLeaseRegistry(Config, _time);
        var racing = new RacingRegistry(inner, conflicts: 3);
        var manager = new LeaseManager(racing, new LeaseManagerOptions { TimeProvider = _time, RandomSeed = 7 });
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Ct);
        Assert.Equal(4, racing.CreateCalls);
        var leases = (await inner.ListAsync(Ct)).Leases;
        Assert.Equal(4, leases.Count); // three subnets stolen by the "other node", one ours
        Assert.Single(leases, l => l.Attributes == Node(1));
        Assert.Equal(lease.Subnet, leases.Single(l => l.Attributes == Node(1)).Subnet);
    }

    [Fact]
    public async Task EveryAttemptLostGivesATransientConflict()
    {
        using var inner = new InMemoryLeaseRegistry(Config, _time);
        var racing = new RacingRegistry(inner, conflicts: int.MaxValue);
        var manager = new LeaseManager(racing, new LeaseManagerOptions { TimeProvider = _time });
        var ex = await Assert.ThrowsAsync<LeaseConflictException>(async () => await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Ct));
        Assert.True(ex.IsTransient);
        Assert.Equal(10, racing.CreateCalls);
        Assert.Contains("10 attempts", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigInOptionsMeansTheStoreNeedsNone()
    {
        using var registry = new InMemoryLeaseRegistry(null, _time);
        var withoutConfig = new LeaseManager(registry);
        var missing = await Assert.ThrowsAsync<NetworkConfigNotFoundException>(async () => await withoutConfig.GetNetworkConfigAsync(Ct));
        Assert.True(missing.IsTransient);

        var manager = new LeaseManager(registry, new LeaseManagerOptions { NetworkConfig = Config });
        var config = await manager.GetNetworkConfigAsync(Ct);
        Assert.Equal(24, config.SubnetLen);
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Ct);
        Assert.True(IPNetwork.Parse("10.5.0.0/16").Contains(lease.Subnet!.Value.BaseAddress));
    }

    [Fact]
    public async Task InvalidStoredConfigIsAConfigurationError()
    {
        using var registry = new InMemoryLeaseRegistry(NetworkConfig.Parse("""{"Network":"10.5.0.0/16","SubnetLen":31}"""), _time);
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await new LeaseManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(1)), Ct));
        Assert.Equal("SubnetLen", ex.Field);
    }

    [Fact]
    public async Task IPv6OnlyIsRejectedClearly()
    {
        var v6Only = NetworkConfig.Parse("""{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00::/48"}""");
        using var registry = new InMemoryLeaseRegistry(v6Only, _time);
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(async () => await new LeaseManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(1)), Ct));
        Assert.Equal("EnableIPv4", ex.Field);
        Assert.Contains("IPv6-only", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RandomPickIsAmongTheLowestHundredFreeSubnets()
    {
        using var registry = new InMemoryLeaseRegistry(NetworkConfig.Parse("""{"Network":"10.0.0.0/8"}"""), _time);
        for (var seed = 0; seed < 30; seed++)
        {
            var lease = await new LeaseManager(registry, new LeaseManagerOptions { RandomSeed = seed }).AcquireLeaseAsync(new LeaseRequest(new LeaseAttributes { PublicIP = new IPAddress([198, 18, 2, (byte)seed]) }), Ct);
            var index = (IPAddressToUInt(lease.Subnet!.Value.BaseAddress) - IPAddressToUInt(IPAddress.Parse("10.0.1.0"))) / 256;
            Assert.InRange(index, 0u, 100u + (uint)seed);
        }
    }

    [Fact]
    public async Task SameSeedSameChoice()
    {
        async Task<IPNetwork?> Pick()
        {
            using var registry = new InMemoryLeaseRegistry(Config, _time);
            return (await new LeaseManager(registry, new LeaseManagerOptions { RandomSeed = 99 }).AcquireLeaseAsync(new LeaseRequest(Node(1)), Ct)).Subnet;
        }

        Assert.Equal(await Pick(), await Pick());
    }

    [Fact]
    public async Task WatchResyncsWithASnapshotAfterCompaction()
    {
        using var registry = new InMemoryLeaseRegistry(Config, _time);
        var a = await new LeaseManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(1)), Ct);
        var revision = registry.Revision;
        await new LeaseManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(2)), Ct);
        registry.CompactHistory();
        await using var watch = registry.WatchAsync(revision, Ct).GetAsyncEnumerator(Ct);
        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.True(watch.Current.IsSnapshot);
        Assert.Equal(2, watch.Current.Snapshot!.Count);
        Assert.Contains(watch.Current.Snapshot, l => l.Subnet == a.Subnet);
    }

    [Fact]
    public async Task ExpiryOfAReservationNeverHappens()
    {
        using var registry = new InMemoryLeaseRegistry(Config, _time);
        await registry.CreateAsync(new Lease { Subnet = IPNetwork.Parse("10.5.3.0/24"), Attributes = Node(3) }, null, Ct);
        _time.Advance(TimeSpan.FromDays(400));
        Assert.Single((await registry.ListAsync(Ct)).Leases);
    }

    private static uint IPAddressToUInt(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    /// <summary>A registry in front of a real one that lets another "node" win the first creates.</summary>
    private sealed class RacingRegistry(ILeaseRegistry inner, int conflicts) : ILeaseRegistry
    {
        private int _left = conflicts;

        public int CreateCalls { get; private set; }

        public ValueTask<NetworkConfig?> GetNetworkConfigAsync(CancellationToken cancellationToken) => inner.GetNetworkConfigAsync(cancellationToken);

        public ValueTask<LeaseSnapshot> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

        public async ValueTask<Lease?> CreateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken)
        {
            CreateCalls++;
            if (_left > 0)
            {
                _left--;
                // Another node creates the same subnet just before us (first time), or the key stays contended.
                await inner.CreateAsync(lease with { Attributes = new LeaseAttributes { PublicIP = IPAddress.Parse("203.0.113." + (CreateCalls % 250)) } }, ttl, cancellationToken);
                return null;
            }

            return await inner.CreateAsync(lease, ttl, cancellationToken);
        }

        public ValueTask<Lease> UpdateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken) => inner.UpdateAsync(lease, ttl, cancellationToken);

        public ValueTask<bool> DeleteAsync(IPNetwork? subnet, IPNetwork? ipv6Subnet, CancellationToken cancellationToken) => inner.DeleteAsync(subnet, ipv6Subnet, cancellationToken);

        public IAsyncEnumerable<LeaseWatchResult> WatchAsync(long afterRevision, CancellationToken cancellationToken) => inner.WatchAsync(afterRevision, cancellationToken);
    }
}

public class LeaseManagerMetricsTests
{
    private sealed class TestMeterFactory : System.Diagnostics.Metrics.IMeterFactory
    {
        private readonly List<System.Diagnostics.Metrics.Meter> _meters = [];

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter(options.Name, options.Version, options.Tags, this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var m in _meters)
            {
                m.Dispose();
            }
        }
    }

    [Fact]
    public async Task CountsAcquisitionsRacesRenewalsAndReleases()
    {
        var ct = TestContext.Current.CancellationToken;
        using var factory = new TestMeterFactory();
        using var registry = new InMemoryLeaseRegistry(NetworkConfig.Parse("""{"Network":"10.5.0.0/16"}"""));
        var manager = new LeaseManager(registry, new LeaseManagerOptions { MeterFactory = factory });
        var meter = manager.Metrics.Meter!;
        using var acquisitions = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(meter, "flannel.lease.acquisitions");
        using var renewals = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(meter, "flannel.lease.renewals");
        using var releases = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(meter, "flannel.lease.releases");
        var request = new LeaseRequest(new LeaseAttributes { PublicIP = System.Net.IPAddress.Parse("198.18.0.1") }) { PreviousSubnet = System.Net.IPNetwork.Parse("10.5.9.0/24") };
        var lease = await manager.AcquireLeaseAsync(request, ct);
        await manager.AcquireLeaseAsync(request, ct);
        await manager.RenewLeaseAsync(lease, ct);
        await manager.ReleaseLeaseAsync(lease, ct);
        Assert.Equal(["previous", "public-ip"], acquisitions.GetMeasurementSnapshot().Select(m => (string)m.Tags["source"]!));
        Assert.Equal(1, renewals.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1, releases.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal("Flannel.Core", meter.Name);
    }
}
