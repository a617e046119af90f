using System.Net;
using System.Text.Json;
using Xunit;

namespace Flannel.TestKit;

/// <summary>
/// The behaviour every lease store must have, checked both on the raw <see cref="ILeaseRegistry"/> SPI and through
/// the <see cref="LeaseManager"/> on top of it (flannel's acquisition, renewal, reservation and watch semantics).
/// Derive a test class per store and implement <see cref="CreateRegistryAsync"/>; stores whose clock is not
/// <see cref="TimeProvider.System"/> override <see cref="TimeProvider"/> and <see cref="AdvanceTimeAsync"/>.
/// </summary>
public abstract class LeaseRegistryContract
{
    /// <summary>The network every test uses unless it says otherwise: 10.5.0.0/16 split into /24s, vxlan.</summary>
    protected static NetworkConfig DefaultConfig { get; } = NetworkConfig.Parse("""{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}""");

    /// <summary>Creates an empty store holding <paramref name="config"/> as its network configuration.</summary>
    /// <param name="config">The configuration to store (flannel's <c>config</c> key).</param>
    /// <returns>The store.</returns>
    protected abstract Task<ILeaseRegistry> CreateRegistryAsync(NetworkConfig config);

    /// <summary>The clock the store computes expirations with.</summary>
    protected virtual TimeProvider TimeProvider => TimeProvider.System;

    /// <summary>Lets <paramref name="duration"/> pass on the store's clock (default: really wait).</summary>
    /// <param name="duration">How long.</param>
    /// <returns>A task.</returns>
    protected virtual Task AdvanceTimeAsync(TimeSpan duration) => Task.Delay(duration);

    /// <summary>A short TTL the store supports (etcd grants at least a few seconds).</summary>
    protected virtual TimeSpan ShortTtl => TimeSpan.FromSeconds(2);

    /// <summary>How far an expiration may be off (clock granularity of the store).</summary>
    protected virtual TimeSpan ExpirationTolerance => TimeSpan.FromSeconds(5);

    /// <summary>The bound on every wait for an event.</summary>
    protected virtual TimeSpan WaitTimeout => TimeSpan.FromSeconds(30);

    /// <summary>Creates a lease manager over <paramref name="registry"/> as a node would.</summary>
    /// <param name="registry">The store.</param>
    /// <param name="ttl">The lease TTL; default 24 h.</param>
    /// <param name="seed">The random seed.</param>
    /// <returns>The manager.</returns>
    protected LeaseManager CreateManager(ILeaseRegistry registry, TimeSpan? ttl = null, int? seed = null) =>
        new(registry, new LeaseManagerOptions { Ttl = ttl ?? TimeSpan.FromHours(24), TimeProvider = TimeProvider, RandomSeed = seed });

    /// <summary>Attributes of a node with public IP 198.18.0.<paramref name="host"/>.</summary>
    /// <param name="host">The last octet.</param>
    /// <param name="mac">An optional VTEP MAC for the vxlan backend data.</param>
    /// <returns>The attributes.</returns>
    protected static LeaseAttributes Node(int host, string mac = "c6:d2:32:6f:8f:44")
    {
        using var doc = JsonDocument.Parse($$"""{"VNI":1,"VtepMAC":"{{mac}}"}""");
        return new LeaseAttributes { PublicIP = new IPAddress([198, 18, 0, (byte)host]), BackendType = "vxlan", BackendData = doc.RootElement.Clone() };
    }

    /// <summary>The store returns the configuration it holds.</summary>
    [Fact]
    public async Task StoresTheNetworkConfig()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var config = await registry.GetNetworkConfigAsync(Token());
        Assert.NotNull(config);
        Assert.Equal(DefaultConfig.Network, config.Network);
        Assert.Equal(BackendType.Vxlan, config.BackendType);
    }

    /// <summary>Create is create-if-absent: a second create of the same key returns null and changes nothing.</summary>
    [Fact]
    public async Task CreateIsCreateIfAbsent()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var lease = new Lease { Subnet = IPNetwork.Parse("10.5.7.0/24"), Attributes = Node(1) };
        var before = TimeProvider.GetUtcNow();
        var created = await registry.CreateAsync(lease, TimeSpan.FromHours(1), Token());
        Assert.NotNull(created);
        Assert.Equal(lease.Subnet, created.Subnet);
        Assert.Equal(lease.Attributes, created.Attributes);
        Assert.NotNull(created.Expiration);
        AssertNear(before + TimeSpan.FromHours(1), created.Expiration.Value);
        Assert.True(created.Revision > 0);

        Assert.Null(await registry.CreateAsync(lease with { Attributes = Node(2) }, TimeSpan.FromHours(1), Token()));
        var list = await registry.ListAsync(Token());
        var only = Assert.Single(list.Leases);
        Assert.Equal(Node(1), only.Attributes);
        Assert.True(list.Revision >= created.Revision);
    }

    /// <summary>A record created without TTL is a reservation: listed with no expiration.</summary>
    [Fact]
    public async Task RecordsWithoutTtlAreReservations()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var created = await registry.CreateAsync(new Lease { Subnet = IPNetwork.Parse("10.5.8.0/24"), Attributes = Node(1) }, null, Token());
        Assert.NotNull(created);
        Assert.True(created.IsReservation);
        var listed = Assert.Single((await registry.ListAsync(Token())).Leases);
        Assert.True(listed.IsReservation);
    }

    /// <summary>Update overwrites an existing record and creates a missing one.</summary>
    [Fact]
    public async Task UpdateOverwritesAndCreates()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var lease = new Lease { Subnet = IPNetwork.Parse("10.5.9.0/24"), Attributes = Node(1) };
        var first = await registry.UpdateAsync(lease, TimeSpan.FromHours(1), Token());
        var second = await registry.UpdateAsync(lease with { Attributes = Node(1, "aa:bb:cc:dd:ee:ff") }, TimeSpan.FromHours(2), Token());
        Assert.True(second.Revision > first.Revision);
        var listed = Assert.Single((await registry.ListAsync(Token())).Leases);
        Assert.Equal(Node(1, "aa:bb:cc:dd:ee:ff"), listed.Attributes);
        Assert.True(listed.Expiration > first.Expiration);
    }

    /// <summary>Delete returns true when it removed the record, then false.</summary>
    [Fact]
    public async Task DeleteReturnsTrueThenFalse()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var subnet = IPNetwork.Parse("10.5.10.0/24");
        Assert.False(await registry.DeleteAsync(subnet, null, Token()));
        await registry.CreateAsync(new Lease { Subnet = subnet, Attributes = Node(1) }, TimeSpan.FromHours(1), Token());
        Assert.True(await registry.DeleteAsync(subnet, null, Token()));
        Assert.False(await registry.DeleteAsync(subnet, null, Token()));
        Assert.Empty((await registry.ListAsync(Token())).Leases);
    }

    /// <summary>Dual-stack records keep both subnets.</summary>
    [Fact]
    public async Task DualStackRecords()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var lease = new Lease
        {
            Subnet = IPNetwork.Parse("10.5.52.0/24"),
            IPv6Subnet = IPNetwork.Parse("fc00:0:0:34::/64"),
            Attributes = Node(1) with { PublicIPv6 = IPAddress.Parse("fd18::1") },
        };
        Assert.NotNull(await registry.CreateAsync(lease, TimeSpan.FromHours(1), Token()));
        var listed = Assert.Single((await registry.ListAsync(Token())).Leases);
        Assert.Equal(lease.Subnet, listed.Subnet);
        Assert.Equal(lease.IPv6Subnet, listed.IPv6Subnet);
        Assert.Equal(lease.Attributes, listed.Attributes);
        Assert.True(await registry.DeleteAsync(lease.Subnet, lease.IPv6Subnet, Token()));
    }

    /// <summary>A watch from the listed revision reports creations (with attributes) and deletions.</summary>
    [Fact]
    public async Task WatchReportsAddedAndRemoved()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var start = await registry.ListAsync(Token());
        using var cts = new CancellationTokenSource(WaitTimeout * 2);
        await using var watch = registry.WatchAsync(start.Revision, cts.Token).GetAsyncEnumerator(cts.Token);
        var subnet = IPNetwork.Parse("10.5.11.0/24");
        await registry.CreateAsync(new Lease { Subnet = subnet, Attributes = Node(3) }, TimeSpan.FromHours(1), Token());
        var added = await NextEventAsync(watch, subnet);
        Assert.Equal(LeaseEventKind.Added, added.Kind);
        Assert.Equal(Node(3), added.Lease.Attributes);

        await registry.DeleteAsync(subnet, null, Token());
        var removed = await NextEventAsync(watch, subnet);
        Assert.Equal(LeaseEventKind.Removed, removed.Kind);
        Assert.Equal(subnet, removed.Lease.Subnet);
    }

    /// <summary>A watch from an older revision reports what happened after it (or a snapshot that includes it).</summary>
    [Fact]
    public async Task WatchResumesAfterARevision()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var a = await registry.CreateAsync(new Lease { Subnet = IPNetwork.Parse("10.5.12.0/24"), Attributes = Node(1) }, TimeSpan.FromHours(1), Token());
        var after = (await registry.ListAsync(Token())).Revision;
        var bSubnet = IPNetwork.Parse("10.5.13.0/24");
        await registry.CreateAsync(new Lease { Subnet = bSubnet, Attributes = Node(2) }, TimeSpan.FromHours(1), Token());
        using var cts = new CancellationTokenSource(WaitTimeout * 2);
        await using var watch = registry.WatchAsync(after, cts.Token).GetAsyncEnumerator(cts.Token);
        var result = await NextAsync(watch);
        if (result.IsSnapshot)
        {
            Assert.Contains(result.Snapshot!, l => l.Subnet == bSubnet);
        }
        else
        {
            Assert.Contains(result.Events, e => e.Kind == LeaseEventKind.Added && e.Lease.Subnet == bSubnet);
            Assert.DoesNotContain(result.Events, e => e.Lease.Subnet == a!.Subnet);
        }
    }

    /// <summary>A record whose TTL runs out disappears and every watcher sees it removed.</summary>
    [Fact]
    public async Task ExpiredRecordsAreRemovedAndReported()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var start = await registry.ListAsync(Token());
        using var cts = new CancellationTokenSource(WaitTimeout * 2);
        await using var w1 = registry.WatchAsync(start.Revision, cts.Token).GetAsyncEnumerator(cts.Token);
        await using var w2 = registry.WatchAsync(start.Revision, cts.Token).GetAsyncEnumerator(cts.Token);
        var subnet = IPNetwork.Parse("10.5.14.0/24");
        var keep = IPNetwork.Parse("10.5.15.0/24");
        await registry.CreateAsync(new Lease { Subnet = subnet, Attributes = Node(4) }, ShortTtl, Token());
        await registry.CreateAsync(new Lease { Subnet = keep, Attributes = Node(5) }, TimeSpan.FromHours(1), Token());
        Assert.Equal(LeaseEventKind.Added, (await NextEventAsync(w1, subnet)).Kind);
        Assert.Equal(LeaseEventKind.Added, (await NextEventAsync(w2, subnet)).Kind);

        await AdvanceTimeAsync(ShortTtl + TimeSpan.FromSeconds(1));
        Assert.Equal(LeaseEventKind.Removed, (await NextEventAsync(w1, subnet)).Kind);
        Assert.Equal(LeaseEventKind.Removed, (await NextEventAsync(w2, subnet)).Kind);
        var left = Assert.Single((await registry.ListAsync(Token())).Leases);
        Assert.Equal(keep, left.Subnet);
    }

    /// <summary>Acquire allocates an aligned /SubnetLen inside [SubnetMin, SubnetMax] and publishes the attributes.</summary>
    [Fact]
    public async Task AcquireAllocatesInRange()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var manager = CreateManager(registry);
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Token());
        var subnet = Assert.NotNull(lease.Subnet);
        Assert.Equal(24, subnet.PrefixLength);
        Assert.True(IPNetwork.Parse("10.5.0.0/16").Contains(subnet.BaseAddress));
        Assert.NotEqual(IPAddress.Parse("10.5.0.0"), subnet.BaseAddress);
        Assert.Null(lease.IPv6Subnet);
        Assert.Equal(Node(1), lease.Attributes);
        Assert.False(lease.IsReservation);
        var listed = Assert.Single((await manager.ListLeasesAsync(Token())).Leases);
        Assert.Equal(subnet, listed.Subnet);
        Assert.Equal(Node(1), listed.Attributes);
    }

    /// <summary>A node that comes back with the same public IP gets its subnet back, with its new attributes.</summary>
    [Fact]
    public async Task AcquireReusesTheLeaseOfThePublicIP()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var first = await CreateManager(registry, seed: 1).AcquireLeaseAsync(new LeaseRequest(Node(1)), Token());
        await CreateManager(registry, seed: 2).AcquireLeaseAsync(new LeaseRequest(Node(2)), Token());
        var again = await CreateManager(registry, seed: 3).AcquireLeaseAsync(new LeaseRequest(Node(1, "aa:bb:cc:dd:ee:ff")), Token());
        Assert.Equal(first.Subnet, again.Subnet);
        Assert.Equal(Node(1, "aa:bb:cc:dd:ee:ff"), again.Attributes);
        var leases = (await registry.ListAsync(Token())).Leases;
        Assert.Equal(2, leases.Count);
        Assert.Equal(Node(1, "aa:bb:cc:dd:ee:ff"), leases.Single(l => l.Subnet == first.Subnet).Attributes);
    }

    /// <summary>The previous subnet (from subnet.env) is reused when it is free and fits the configuration.</summary>
    [Fact]
    public async Task AcquireReusesTheFreePreviousSubnet()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var previous = IPNetwork.Parse("10.5.77.0/24");
        var lease = await CreateManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(1)) { PreviousSubnet = previous }, Token());
        Assert.Equal(previous, lease.Subnet);
    }

    /// <summary>A previous subnet that another node holds, or that does not fit, is not used.</summary>
    [Fact]
    public async Task AcquireIgnoresATakenOrIncompatiblePreviousSubnet()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var taken = IPNetwork.Parse("10.5.78.0/24");
        await registry.CreateAsync(new Lease { Subnet = taken, Attributes = Node(9) }, TimeSpan.FromHours(1), Token());
        var lease = await CreateManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(1)) { PreviousSubnet = taken }, Token());
        Assert.NotEqual(taken, lease.Subnet);

        var outside = IPNetwork.Parse("10.6.1.0/24");
        var other = await CreateManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(2)) { PreviousSubnet = outside }, Token());
        Assert.NotEqual(outside, other.Subnet);
        var wrongLength = IPNetwork.Parse("10.5.79.0/25");
        var third = await CreateManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(3)) { PreviousSubnet = wrongLength }, Token());
        Assert.Equal(24, third.Subnet!.Value.PrefixLength);
    }

    /// <summary>A lease of our public IP that no longer fits the configuration is deleted and a new one allocated.</summary>
    [Fact]
    public async Task AcquireReplacesAnIncompatibleLease()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var stale = IPNetwork.Parse("10.5.80.0/25");
        await registry.CreateAsync(new Lease { Subnet = stale, Attributes = Node(1) }, TimeSpan.FromHours(1), Token());
        var lease = await CreateManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(1)), Token());
        Assert.Equal(24, lease.Subnet!.Value.PrefixLength);
        var listed = Assert.Single((await registry.ListAsync(Token())).Leases);
        Assert.Equal(lease.Subnet, listed.Subnet);
    }

    /// <summary>Renewal pushes the expiration out by a fresh TTL.</summary>
    [Fact]
    public async Task RenewExtendsTheExpiration()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var manager = CreateManager(registry, ttl: TimeSpan.FromHours(1));
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Token());
        await AdvanceTimeAsync(TimeSpan.FromSeconds(2));
        var renewed = await manager.RenewLeaseAsync(lease, Token());
        Assert.Equal(lease.Subnet, renewed.Subnet);
        Assert.True(renewed.Expiration > lease.Expiration, $"renewed expiration {renewed.Expiration} is not after {lease.Expiration}");
        AssertNear(TimeProvider.GetUtcNow() + TimeSpan.FromHours(1), renewed.Expiration!.Value);
    }

    /// <summary>A reservation (record without TTL) is reused by the node with its public IP and stays TTL-less, also after renewal.</summary>
    [Fact]
    public async Task ReservationsStayWithoutTtl()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var reserved = IPNetwork.Parse("10.5.200.0/24");
        await registry.CreateAsync(new Lease { Subnet = reserved, Attributes = new LeaseAttributes { PublicIP = Node(7).PublicIP } }, null, Token());
        var manager = CreateManager(registry);
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(7)), Token());
        Assert.Equal(reserved, lease.Subnet);
        Assert.True(lease.IsReservation);
        Assert.Equal(Node(7), lease.Attributes);
        var renewed = await manager.RenewLeaseAsync(lease, Token());
        Assert.True(renewed.IsReservation);
        Assert.True(Assert.Single((await registry.ListAsync(Token())).Leases).IsReservation);

        var other = await manager.AcquireLeaseAsync(new LeaseRequest(Node(8)), Token());
        Assert.NotEqual(reserved, other.Subnet);
    }

    /// <summary>Release deletes the lease so another node can take the subnet.</summary>
    [Fact]
    public async Task ReleaseDeletesTheLease()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var manager = CreateManager(registry);
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Token());
        Assert.True(await manager.ReleaseLeaseAsync(lease, Token()));
        Assert.False(await manager.ReleaseLeaseAsync(lease, Token()));
        Assert.Empty((await manager.ListLeasesAsync(Token())).Leases);
        var next = await manager.AcquireLeaseAsync(new LeaseRequest(Node(2)) { PreviousSubnet = lease.Subnet }, Token());
        Assert.Equal(lease.Subnet, next.Subnet);
    }

    /// <summary>A lease acquired with a short TTL and never renewed expires.</summary>
    [Fact]
    public async Task UnrenewedLeasesExpire()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var manager = CreateManager(registry, ttl: ShortTtl);
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Token());
        await AdvanceTimeAsync(ShortTtl + TimeSpan.FromSeconds(1));
        var deadline = DateTime.UtcNow + WaitTimeout;
        while ((await registry.ListAsync(Token())).Leases.Any(l => l.Subnet == lease.Subnet))
        {
            Assert.True(DateTime.UtcNow < deadline, $"lease {lease.Subnet} did not expire within {WaitTimeout}");
            await Task.Delay(100);
        }
    }

    /// <summary>When every subnet is taken, acquire fails with "out of subnets" naming the network.</summary>
    [Fact]
    public async Task OutOfSubnets()
    {
        var small = NetworkConfig.Parse("""{"Network":"10.9.0.0/22","Backend":{"Type":"vxlan"}}""");
        var registry = await CreateRegistryAsync(small);
        var subnets = new HashSet<IPNetwork>();
        for (var i = 1; i <= 3; i++)
        {
            subnets.Add((await CreateManager(registry, seed: i).AcquireLeaseAsync(new LeaseRequest(Node(i)), Token())).Subnet!.Value);
        }

        Assert.Equal(new HashSet<IPNetwork> { IPNetwork.Parse("10.9.1.0/24"), IPNetwork.Parse("10.9.2.0/24"), IPNetwork.Parse("10.9.3.0/24") }, subnets);
        var ex = await Assert.ThrowsAsync<SubnetExhaustedException>(async () => await CreateManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(4)), Token()));
        Assert.Contains("out of subnets", ex.Message, StringComparison.Ordinal);
        Assert.Contains("10.9.0.0/22", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Many nodes acquiring at once all get different subnets.</summary>
    [Fact]
    public async Task ConcurrentAcquisitionsNeverDuplicate()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var leases = await Task.WhenAll(Enumerable.Range(1, 24).Select(i =>
            Task.Run(async () => await CreateManager(registry, seed: i).AcquireLeaseAsync(new LeaseRequest(Node(i)), Token()))));
        Assert.Equal(24, leases.Select(l => l.Subnet).Distinct().Count());
        Assert.Equal(24, (await registry.ListAsync(Token())).Leases.Count);
    }

    /// <summary>Dual-stack networks give each lease an IPv6 subnet too.</summary>
    [Fact]
    public async Task DualStackAcquire()
    {
        var config = NetworkConfig.Parse("""{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fc00:5::/48","Backend":{"Type":"vxlan"}}""");
        var registry = await CreateRegistryAsync(config);
        var manager = CreateManager(registry);
        var lease = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1) with { PublicIPv6 = IPAddress.Parse("fd18::1") }), Token());
        var v6 = Assert.NotNull(lease.IPv6Subnet);
        Assert.Equal(64, v6.PrefixLength);
        Assert.True(IPNetwork.Parse("fc00:5::/48").Contains(v6.BaseAddress));
        var again = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1) with { PublicIPv6 = IPAddress.Parse("fd18::1") }), Token());
        Assert.Equal(lease.Subnet, again.Subnet);
        Assert.Equal(lease.IPv6Subnet, again.IPv6Subnet);
    }

    /// <summary>The manager's watch starts with a snapshot of every lease, then reports other nodes' changes.</summary>
    [Fact]
    public async Task ManagerWatchStartsWithASnapshot()
    {
        var registry = await CreateRegistryAsync(DefaultConfig);
        var manager = CreateManager(registry);
        var mine = await manager.AcquireLeaseAsync(new LeaseRequest(Node(1)), Token());
        using var cts = new CancellationTokenSource(WaitTimeout * 2);
        await using var watch = manager.WatchLeasesAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        var first = await NextAsync(watch);
        Assert.True(first.IsSnapshot);
        Assert.Contains(first.Snapshot!, l => l.Subnet == mine.Subnet);

        var peer = await CreateManager(registry).AcquireLeaseAsync(new LeaseRequest(Node(2)), Token());
        var added = await NextEventAsync(watch, peer.Subnet!.Value);
        Assert.Equal(LeaseEventKind.Added, added.Kind);
        Assert.Equal(Node(2), added.Lease.Attributes);
        await CreateManager(registry).ReleaseLeaseAsync(peer, Token());
        Assert.Equal(LeaseEventKind.Removed, (await NextEventAsync(watch, peer.Subnet!.Value)).Kind);
    }

    /// <summary>A token that bounds one store call.</summary>
    /// <returns>The token.</returns>
    protected CancellationToken Token() => new CancellationTokenSource(WaitTimeout).Token;

    /// <summary>Reads the next watch result within <see cref="WaitTimeout"/>.</summary>
    /// <param name="watch">The watch.</param>
    /// <returns>The result.</returns>
    protected async Task<LeaseWatchResult> NextAsync(IAsyncEnumerator<LeaseWatchResult> watch)
    {
        ArgumentNullException.ThrowIfNull(watch);
        var moved = await watch.MoveNextAsync().AsTask().WaitAsync(WaitTimeout);
        Assert.True(moved, "the watch ended");
        return watch.Current;
    }

    /// <summary>Reads watch results until one carries an event for <paramref name="subnet"/> (snapshots are diffed as events).</summary>
    /// <param name="watch">The watch.</param>
    /// <param name="subnet">The IPv4 subnet.</param>
    /// <returns>The first event for that subnet.</returns>
    protected async Task<LeaseEvent> NextEventAsync(IAsyncEnumerator<LeaseWatchResult> watch, IPNetwork subnet)
    {
        var deadline = DateTime.UtcNow + WaitTimeout;
        while (true)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no event for {subnet} within {WaitTimeout}");
            var result = await NextAsync(watch);
            if (result.IsSnapshot)
            {
                var inSnapshot = result.Snapshot!.FirstOrDefault(l => l.Subnet == subnet);
                return inSnapshot is not null
                    ? new LeaseEvent(LeaseEventKind.Added, inSnapshot)
                    : new LeaseEvent(LeaseEventKind.Removed, new Lease { Subnet = subnet });
            }

            foreach (var e in result.Events)
            {
                if (e.Lease.Subnet == subnet)
                {
                    return e;
                }
            }
        }
    }

    private void AssertNear(DateTimeOffset expected, DateTimeOffset actual) =>
        Assert.True((actual - expected).Duration() <= ExpirationTolerance, $"expiration {actual:O} is not within {ExpirationTolerance} of {expected:O}");
}
