using System.Net;
using System.Runtime.CompilerServices;
using Flannel.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel;

/// <summary>
/// flannel's subnet manager over any <see cref="ILeaseRegistry"/>: reuse by public IP, reuse of the previous subnet,
/// a random pick among the lowest 100 free subnets, lost races retried, TTL renewal with reservations kept TTL-less,
/// and a watch that starts with a snapshot. Every store (in-memory, SQLite, etcd) gets the same semantics from it.
/// </summary>
public sealed class LeaseManager : ISubnetManager
{
    private readonly ILeaseRegistry _registry;
    private readonly LeaseManagerOptions _options;
    private readonly ILogger _logger;
    private readonly Random _random;
    private readonly Lock _randomLock = new();
    private int _warnedBackendDefaulted;
    private readonly LeaseMetrics _metrics;

    /// <summary>Creates a lease manager.</summary>
    /// <param name="registry">The store.</param>
    /// <param name="options">Options; null for the defaults.</param>
    public LeaseManager(ILeaseRegistry registry, LeaseManagerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _registry = registry;
        _options = options ?? new LeaseManagerOptions();
        if (_options.Ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.Ttl, "LeaseManagerOptions.Ttl must be positive");
        }

        if (_options.MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), _options.MaxAttempts, "LeaseManagerOptions.MaxAttempts must be at least 1");
        }

        _logger = (_options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LeaseManager>();
        _random = _options.RandomSeed is { } seed ? new Random(seed) : new Random();
        _metrics = new LeaseMetrics(_options.MeterFactory);
    }

    internal LeaseMetrics Metrics => _metrics;

    /// <summary>The store under this manager.</summary>
    public ILeaseRegistry Registry => _registry;

    /// <inheritdoc />
    /// <exception cref="NetworkConfigNotFoundException">Neither the options nor the store hold a configuration.</exception>
    /// <exception cref="FlannelConfigurationException">The configuration is invalid.</exception>
    public async ValueTask<NetworkConfig> GetNetworkConfigAsync(CancellationToken cancellationToken)
    {
        var config = _options.NetworkConfig
            ?? await _registry.GetNetworkConfigAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new NetworkConfigNotFoundException();
        if (config.BackendDefaulted && Interlocked.Exchange(ref _warnedBackendDefaulted, 1) == 0)
        {
            CoreLog.BackendDefaulted(_logger, config.BackendType.Value);
        }

        return config.Validate();
    }

    /// <inheritdoc />
    /// <exception cref="SubnetExhaustedException">No subnet is free.</exception>
    /// <exception cref="LeaseConflictException">Every attempt lost a creation race.</exception>
    public async ValueTask<Lease> AcquireLeaseAsync(LeaseRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var config = await GetNetworkConfigAsync(cancellationToken).ConfigureAwait(false);
        if (!config.EnableIPv4)
        {
            throw new FlannelConfigurationException("EnableIPv4", "false",
                "leases in a store need IPv4 (flannel's key format has no IPv6-only form); IPv6-only networks need a subnet manager that takes pod CIDRs from elsewhere, such as Kubernetes");
        }

        var attrs = request.Attributes;
        IPNetwork? lastTried = null;
        for (var attempt = 1; attempt <= _options.MaxAttempts; attempt++)
        {
            var snapshot = await _registry.ListAsync(cancellationToken).ConfigureAwait(false);
            var leases = snapshot.Leases.ToList();

            // 1. Reuse the lease that holds our public IP.
            var mine = FindByPublicIP(leases, attrs);
            if (mine is not null)
            {
                if (SubnetAllocator.IsCompatible(config, mine.Subnet, mine.IPv6Subnet))
                {
                    var reused = await _registry.UpdateAsync(
                        mine with { Attributes = attrs },
                        mine.IsReservation ? null : _options.Ttl,
                        cancellationToken).ConfigureAwait(false);
                    CoreLog.LeaseReused(_logger, new SubnetsText(reused.Subnet, reused.IPv6Subnet), attrs.PublicIP ?? attrs.PublicIPv6, mine.IsReservation ? " (a reservation, kept without TTL)" : string.Empty);
                    _metrics.Acquired("public-ip");
                    return reused;
                }

                CoreLog.IncompatibleLeaseDeleted(_logger, new SubnetsText(mine.Subnet, mine.IPv6Subnet), attrs.PublicIP ?? attrs.PublicIPv6);
                await _registry.DeleteAsync(mine.Subnet, mine.IPv6Subnet, cancellationToken).ConfigureAwait(false);
                leases.Remove(mine);
            }

            // 2. Reuse the previous subnet (subnet.env) when it is free and fits; 3. otherwise pick a free one.
            var subnet = Previous(request.PreviousSubnet, leases.Select(l => l.Subnet), config.SubnetLen, config.SubnetMin!, config.SubnetMax!)
                ?? Pick(config.Network!.Value, config.SubnetLen, config.SubnetMin!, config.SubnetMax!, leases.Select(l => l.Subnet));
            IPNetwork? ipv6Subnet = null;
            if (config.EnableIPv6)
            {
                ipv6Subnet = Previous(request.PreviousIPv6Subnet, leases.Select(l => l.IPv6Subnet), config.IPv6SubnetLen, config.IPv6SubnetMin!, config.IPv6SubnetMax!)
                    ?? Pick(config.IPv6Network!.Value, config.IPv6SubnetLen, config.IPv6SubnetMin!, config.IPv6SubnetMax!, leases.Select(l => l.IPv6Subnet));
            }

            var created = await _registry.CreateAsync(
                new Lease { Subnet = subnet, IPv6Subnet = ipv6Subnet, Attributes = attrs },
                _options.Ttl,
                cancellationToken).ConfigureAwait(false);
            if (created is not null)
            {
                CoreLog.LeaseAllocated(_logger, new SubnetsText(created.Subnet, created.IPv6Subnet), attrs.PublicIP ?? attrs.PublicIPv6, new ExpiryText(created.Expiration));
                _metrics.Acquired(subnet == request.PreviousSubnet ? "previous" : "new");
                return created;
            }

            lastTried = subnet;
            CoreLog.LostRace(_logger, subnet, attempt, _options.MaxAttempts);
            _metrics.RaceLost();
        }

        throw new LeaseConflictException(
            $"could not acquire a lease in {_options.MaxAttempts} attempts: other nodes created the chosen subnets (last {lastTried}) first; try again");
    }

    /// <inheritdoc />
    public async ValueTask<Lease> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var renewed = await _registry.UpdateAsync(lease, lease.IsReservation ? null : _options.Ttl, cancellationToken).ConfigureAwait(false);
        CoreLog.LeaseRenewed(_logger, new SubnetsText(renewed.Subnet, renewed.IPv6Subnet), new ExpiryText(renewed.Expiration));
        _metrics.Renewed();
        return renewed;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseLeaseAsync(Lease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var found = await _registry.DeleteAsync(lease.Subnet, lease.IPv6Subnet, cancellationToken).ConfigureAwait(false);
        CoreLog.LeaseReleased(_logger, new SubnetsText(lease.Subnet, lease.IPv6Subnet), found);
        _metrics.Released();
        return found;
    }

    /// <inheritdoc />
    public ValueTask<LeaseSnapshot> ListLeasesAsync(CancellationToken cancellationToken) => _registry.ListAsync(cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<LeaseWatchResult> WatchLeasesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var snapshot = await _registry.ListAsync(cancellationToken).ConfigureAwait(false);
        yield return new LeaseWatchResult { Snapshot = snapshot.Leases, Revision = snapshot.Revision };
        await foreach (var result in _registry.WatchAsync(snapshot.Revision, cancellationToken).ConfigureAwait(false))
        {
            if (result.IsSnapshot)
            {
                CoreLog.WatchResync(_logger, result.Snapshot!.Count, result.Revision);
            }

            yield return result;
        }
    }

    private static Lease? FindByPublicIP(List<Lease> leases, LeaseAttributes attrs)
    {
        if (attrs.PublicIP is { } ip)
        {
            return leases.FirstOrDefault(l => ip.Equals(l.Attributes.PublicIP));
        }

        return attrs.PublicIPv6 is { } ip6 ? leases.FirstOrDefault(l => l.Attributes.PublicIP is null && ip6.Equals(l.Attributes.PublicIPv6)) : null;
    }

    private IPNetwork? Previous(IPNetwork? previous, IEnumerable<IPNetwork?> taken, int subnetLen, IPAddress min, IPAddress max)
    {
        if (previous is not { } prev)
        {
            return null;
        }

        if (taken.Any(t => t is { } x && IPText.Overlaps(x, prev)))
        {
            CoreLog.PreviousSubnetTaken(_logger, prev);
            return null;
        }

        if (!SubnetAllocator.InRange(prev, subnetLen, min, max))
        {
            CoreLog.PreviousSubnetIncompatible(_logger, prev);
            return null;
        }

        CoreLog.PreviousSubnetReused(_logger, prev);
        return prev;
    }

    private IPNetwork Pick(IPNetwork network, int subnetLen, IPAddress min, IPAddress max, IEnumerable<IPNetwork?> taken)
    {
        var takenList = taken.OfType<IPNetwork>().ToList();
        var free = SubnetAllocator.FreeCandidates(subnetLen, min, max, takenList);
        if (free.Count == 0)
        {
            throw new SubnetExhaustedException(network, subnetLen, min, max, takenList.Count);
        }

        lock (_randomLock)
        {
            return free[_random.Next(free.Count)];
        }
    }
}
