namespace Flannel;

/// <summary>
/// Leases pod subnets to nodes: flannel's subnet manager, store-agnostic. Implementations must give
/// flannel's semantics (see docs/leases.md): reuse by public IP, reuse of the previous subnet, random pick
/// among the lowest free subnets, retried races, TTL renewal, and a watch that starts with a snapshot.
/// </summary>
public interface ISubnetManager
{
    /// <summary>Gets the (validated) network configuration this manager allocates from.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The configuration with every derived value filled in.</returns>
    ValueTask<NetworkConfig> GetNetworkConfigAsync(CancellationToken cancellationToken);

    /// <summary>Acquires (or re-acquires) this node's lease.</summary>
    /// <param name="request">The attributes to publish and the previously held subnets.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The lease now held.</returns>
    /// <exception cref="FlannelException">No subnet is free ("out of subnets"), or the store failed.</exception>
    ValueTask<Lease> AcquireLeaseAsync(LeaseRequest request, CancellationToken cancellationToken);

    /// <summary>Extends a held lease by the store's TTL (reservations stay without TTL).</summary>
    /// <param name="lease">The lease to renew.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The renewed lease with its new expiration.</returns>
    ValueTask<Lease> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken);

    /// <summary>Gives a lease back so that its subnet can be handed to another node.</summary>
    /// <param name="lease">The lease to release.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when the lease existed and was removed.</returns>
    ValueTask<bool> ReleaseLeaseAsync(Lease lease, CancellationToken cancellationToken);

    /// <summary>Lists every lease.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The leases and the revision they were read at.</returns>
    ValueTask<LeaseSnapshot> ListLeasesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Watches every lease: first a snapshot, then batches of events; a new snapshot whenever the watcher
    /// had to resynchronise. The sequence ends only when <paramref name="cancellationToken"/> is cancelled;
    /// store outages are retried inside it.
    /// </summary>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>The watch results.</returns>
    IAsyncEnumerable<LeaseWatchResult> WatchLeasesAsync(CancellationToken cancellationToken);
}
