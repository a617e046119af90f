using System.Runtime.CompilerServices;
using Flannel.Internal;

namespace Flannel;

/// <summary>
/// flannel's lease watch with cache semantics (its <c>WatchLeases</c> / <c>WatchLease</c> helpers), over any
/// <see cref="ISubnetManager"/>: what a backend consumes.
/// </summary>
public static class LeaseWatcher
{
    /// <summary>
    /// Watches every peer lease. The first batch holds every current peer as <see cref="LeaseEventKind.Added"/>.
    /// Then: Removed events carry the last known attributes (public IP, backend data) so backends can undo state;
    /// the node's own lease is filtered out; a resync snapshot is diffed against the cache (new → Added,
    /// changed → Added, gone → Removed); an Added event for a known lease is emitted again only when its subnets or
    /// attributes changed (renewals are not re-emitted). Empty batches are not yielded.
    /// </summary>
    /// <param name="manager">The subnet manager.</param>
    /// <param name="own">This node's lease, filtered out; null to see every lease.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>Batches of events.</returns>
    public static async IAsyncEnumerable<IReadOnlyList<LeaseEvent>> WatchPeersAsync(
        ISubnetManager manager, Lease? own, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manager);
        var cache = new PeerLeaseCache(own);
        await foreach (var result in manager.WatchLeasesAsync(cancellationToken).ConfigureAwait(false))
        {
            var batch = result.IsSnapshot ? cache.Reset(result.Snapshot!) : cache.Apply(result.Events);
            if (batch.Count > 0)
            {
                yield return batch;
            }
        }
    }

    /// <summary>
    /// Watches this node's own lease: <see cref="LeaseEventKind.Added"/> whenever it was renewed or changed (the event
    /// carries the new expiration, so a renewal timer can be reset), <see cref="LeaseEventKind.Removed"/> when it was
    /// deleted or expired (flanneld shuts down then). The watch goes on after a removal, in case the lease comes back.
    /// </summary>
    /// <param name="manager">The subnet manager.</param>
    /// <param name="own">The lease as this node last saw it.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>The own lease's events.</returns>
    public static async IAsyncEnumerable<LeaseEvent> WatchOwnLeaseAsync(
        ISubnetManager manager, Lease own, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(own);
        Lease? last = own;
        await foreach (var result in manager.WatchLeasesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (result.IsSnapshot)
            {
                var current = result.Snapshot!.FirstOrDefault(l => PeerLeaseCache.SameSubnets(own, l));
                if (current is null && last is not null)
                {
                    yield return new LeaseEvent(LeaseEventKind.Removed, last);
                    last = null;
                }
                else if (current is not null && current != last)
                {
                    last = current;
                    yield return new LeaseEvent(LeaseEventKind.Added, current);
                }

                continue;
            }

            foreach (var e in result.Events)
            {
                if (!PeerLeaseCache.SameSubnets(own, e.Lease))
                {
                    continue;
                }

                if (e.Kind == LeaseEventKind.Added)
                {
                    if (e.Lease != last)
                    {
                        last = e.Lease;
                        yield return e;
                    }
                }
                else
                {
                    var removed = last ?? e.Lease;
                    last = null;
                    yield return new LeaseEvent(LeaseEventKind.Removed, removed);
                }
            }
        }
    }
}
