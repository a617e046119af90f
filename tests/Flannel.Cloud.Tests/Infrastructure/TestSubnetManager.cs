using System.Runtime.CompilerServices;

namespace Flannel.Cloud.Tests.Infrastructure;

/// <summary>
/// Core's real subnet manager (LeaseManager over InMemoryLeaseRegistry), recording the lease requests a backend
/// makes so tests can assert what it published.
/// </summary>
public sealed class TestSubnetManager : ISubnetManager, IDisposable
{
    private readonly InMemoryLeaseRegistry _registry;
    private readonly LeaseManager _inner;

    public TestSubnetManager(NetworkConfig config)
    {
        _registry = new InMemoryLeaseRegistry(config);
        _inner = new LeaseManager(_registry);
    }

    public List<LeaseRequest> Requests { get; } = [];

    public ValueTask<NetworkConfig> GetNetworkConfigAsync(CancellationToken cancellationToken) => _inner.GetNetworkConfigAsync(cancellationToken);

    public ValueTask<Lease> AcquireLeaseAsync(LeaseRequest request, CancellationToken cancellationToken)
    {
        lock (Requests)
        {
            Requests.Add(request);
        }

        return _inner.AcquireLeaseAsync(request, cancellationToken);
    }

    public ValueTask<Lease> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken) => _inner.RenewLeaseAsync(lease, cancellationToken);

    public ValueTask<bool> ReleaseLeaseAsync(Lease lease, CancellationToken cancellationToken) => _inner.ReleaseLeaseAsync(lease, cancellationToken);

    public ValueTask<LeaseSnapshot> ListLeasesAsync(CancellationToken cancellationToken) => _inner.ListLeasesAsync(cancellationToken);

    public IAsyncEnumerable<LeaseWatchResult> WatchLeasesAsync(CancellationToken cancellationToken) => _inner.WatchLeasesAsync(cancellationToken);

    public void Dispose() => _registry.Dispose();
}
