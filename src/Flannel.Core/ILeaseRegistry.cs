using System.Net;

namespace Flannel;

/// <summary>
/// The storage side of a subnet manager (flannel's "registry"): raw, transactional lease records.
/// Implement this to plug a new store under the lease manager, which adds flannel's allocation,
/// renewal and watch semantics on top.
/// </summary>
public interface ILeaseRegistry
{
    /// <summary>Reads the stored network configuration, or null when the store holds none.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The parsed configuration (not yet validated), or null.</returns>
    ValueTask<NetworkConfig?> GetNetworkConfigAsync(CancellationToken cancellationToken);

    /// <summary>Lists every lease record. Records that cannot be parsed are skipped with a warning naming the key.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The leases and the store revision they were read at.</returns>
    ValueTask<LeaseSnapshot> ListAsync(CancellationToken cancellationToken);

    /// <summary>Creates a lease record only if none exists for its subnet key (a transaction).</summary>
    /// <param name="lease">The lease to create.</param>
    /// <param name="ttl">The time to live, or null for a record without TTL.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored lease (with expiration and revision), or null when the key already existed.</returns>
    ValueTask<Lease?> CreateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken);

    /// <summary>Writes a lease record whether or not it exists (renewal, attribute change).</summary>
    /// <param name="lease">The lease to write.</param>
    /// <param name="ttl">The time to live, or null to store it without TTL.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The stored lease (with expiration and revision).</returns>
    ValueTask<Lease> UpdateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken);

    /// <summary>Deletes the lease record for the given subnets.</summary>
    /// <param name="subnet">The IPv4 subnet of the key, if any.</param>
    /// <param name="ipv6Subnet">The IPv6 subnet of the key, if any.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when a record was deleted.</returns>
    ValueTask<bool> DeleteAsync(IPNetwork? subnet, IPNetwork? ipv6Subnet, CancellationToken cancellationToken);

    /// <summary>
    /// Watches lease records changed after <paramref name="afterRevision"/>. Yields event batches; when the
    /// store cannot resume from that revision (compaction), yields a fresh snapshot instead. Expired records
    /// produce <see cref="LeaseEventKind.Removed"/> events. Transient store failures are retried inside.
    /// </summary>
    /// <param name="afterRevision">The last revision the caller has seen.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>The watch results.</returns>
    IAsyncEnumerable<LeaseWatchResult> WatchAsync(long afterRevision, CancellationToken cancellationToken);
}
