using System.Net;
using System.Runtime.CompilerServices;

namespace Flannel.Cloud.Tests.Infrastructure;

/// <summary>
/// A minimal ISubnetManager for backend tests: hands out one fixed subnet and records the requests. (Core's
/// InMemoryLeaseRegistry + LeaseManager replace it once they are on main.)
/// </summary>
public sealed class TestSubnetManager(IPNetwork subnet, NetworkConfig config) : ISubnetManager
{
    public List<LeaseRequest> Requests { get; } = [];

    public ValueTask<NetworkConfig> GetNetworkConfigAsync(CancellationToken cancellationToken) => ValueTask.FromResult(config);

    public ValueTask<Lease> AcquireLeaseAsync(LeaseRequest request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        return ValueTask.FromResult(new Lease { Subnet = subnet, Attributes = request.Attributes, Expiration = DateTimeOffset.UtcNow.AddHours(24) });
    }

    public ValueTask<Lease> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken) => ValueTask.FromResult(lease);

    public ValueTask<bool> ReleaseLeaseAsync(Lease lease, CancellationToken cancellationToken) => ValueTask.FromResult(true);

    public ValueTask<LeaseSnapshot> ListLeasesAsync(CancellationToken cancellationToken) => ValueTask.FromResult(new LeaseSnapshot([], 0));

    public async IAsyncEnumerable<LeaseWatchResult> WatchLeasesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return new LeaseWatchResult { Snapshot = [] };
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
