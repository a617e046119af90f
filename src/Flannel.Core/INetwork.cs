namespace Flannel;

/// <summary>
/// A registered overlay network: the lease this node holds and the data path the backend programs for it.
/// </summary>
public interface INetwork : IAsyncDisposable
{
    /// <summary>The lease this node holds for the network.</summary>
    Lease Lease { get; }

    /// <summary>The MTU pods should use (what subnet.env advertises as FLANNEL_MTU).</summary>
    int Mtu { get; }

    /// <summary>
    /// Follows peer leases and keeps the data path in line with them until <paramref name="cancellationToken"/>
    /// is cancelled. Cancellation leaves the data path in place (zero-downtime restarts).
    /// </summary>
    /// <param name="cancellationToken">Stops the network.</param>
    /// <returns>A task that completes when the network stops; it faults on an unrecoverable error.</returns>
    Task RunAsync(CancellationToken cancellationToken);

    /// <summary>Removes everything this network created on the node (devices, routes, neighbour and FDB entries).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the node is clean.</returns>
    ValueTask TeardownAsync(CancellationToken cancellationToken);
}
