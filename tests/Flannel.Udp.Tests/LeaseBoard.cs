using System.Net;

namespace Flannel.Udp.Tests;

/// <summary>
/// The lease store shared by the simulated hosts of a test: Core's <see cref="InMemoryLeaseRegistry"/>, with one
/// <see cref="LeaseManager"/> per node over it (as separate flanneld processes over one etcd). Hosts ask for
/// 10.244.N.0/24 as their previous subnet, so the manager gives them exactly that.
/// </summary>
internal sealed class LeaseBoard : IDisposable
{
    public LeaseBoard() => Registry = new InMemoryLeaseRegistry(Config);

    public NetworkConfig Config { get; } = new() { Network = IPNetwork.Parse("10.244.0.0/16"), SubnetLen = 24, BackendType = BackendType.Udp };

    public InMemoryLeaseRegistry Registry { get; }

    public ISubnetManager ManagerFor() => new LeaseManager(Registry);

    /// <summary>Registers a lease for a foreign node (the C forwarder).</summary>
    public async Task<Lease> PutAsync(IPNetwork subnet, IPAddress publicIP)
    {
        var lease = await ManagerFor().AcquireLeaseAsync(new LeaseRequest(new LeaseAttributes { PublicIP = publicIP }) { PreviousSubnet = subnet }, CancellationToken.None);
        if (!lease.Subnet.Equals(subnet))
        {
            throw new InvalidOperationException($"wanted {subnet}, got {lease.Subnet}");
        }

        return lease;
    }

    /// <summary>Deletes a node's lease (what expiry or release does).</summary>
    public async Task<bool> RemoveAsync(IPNetwork subnet) => await Registry.DeleteAsync(subnet, null, CancellationToken.None);

    public void Dispose() => Registry.Dispose();
}
