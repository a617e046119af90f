// Shared by Flannel.HostGw and Flannel.Vxlan (linked into the latter); the namespace follows the assembly.
#if FLANNEL_VXLAN
namespace Flannel.Vxlan;
#else
namespace Flannel.HostGw;
#endif

/// <summary>
/// The current set of peer leases (every lease but this node's own), kept from a lease watch. Removal events
/// are answered with the last known lease (its attributes), so a backend can undo exactly what it programmed.
/// </summary>
internal sealed class PeerLeases
{
    private readonly Dictionary<(System.Net.IPNetwork? V4, System.Net.IPNetwork? V6), Lease> _peers = [];
    private readonly Lease _own;

    public PeerLeases(Lease own) => _own = own;

    /// <summary>The current peers.</summary>
    public IReadOnlyCollection<Lease> Current => _peers.Values;

    /// <summary>True when <paramref name="lease"/> is this node's own lease (same subnet).</summary>
    public bool IsOwn(Lease lease) =>
        _own.Subnet is { } s ? lease.Subnet == s : _own.IPv6Subnet is { } s6 && lease.IPv6Subnet == s6;

    /// <summary>
    /// Applies one watch step. Returns null for a snapshot (the caller reconciles everything), otherwise the
    /// peer events of the step, removals carrying the last known lease.
    /// </summary>
    public IReadOnlyList<LeaseEvent>? Apply(LeaseWatchResult step)
    {
        if (step.Snapshot is { } snapshot)
        {
            _peers.Clear();
            _peers.EnsureCapacity(snapshot.Count);
            foreach (var lease in snapshot)
            {
                if (!IsOwn(lease))
                {
                    _peers[Key(lease)] = lease;
                }
            }

            return null;
        }

        var events = new List<LeaseEvent>(step.Events.Count);
        foreach (var e in step.Events)
        {
            if (IsOwn(e.Lease))
            {
                continue;
            }

            var key = Key(e.Lease);
            if (e.Kind == LeaseEventKind.Added)
            {
                _peers[key] = e.Lease;
                events.Add(e);
            }
            else if (_peers.Remove(key, out var last))
            {
                events.Add(new LeaseEvent(LeaseEventKind.Removed, last));
            }
            else
            {
                events.Add(e);
            }
        }

        return events;
    }

    /// <summary>
    /// The lease loop both kernel backends run: each watch step is applied to this set under <paramref name="gate"/>,
    /// then handed to <paramref name="apply"/> (null: a snapshot, reconcile everything; else the peer events). A
    /// failure of <paramref name="apply"/> goes to <paramref name="failed"/> and the loop goes on (the peer set is
    /// updated all the same, so a later reconcile retries); <paramref name="synced"/> runs after every snapshot.
    /// </summary>
    public async Task RunAsync(
        ISubnetManager manager,
        SemaphoreSlim gate,
        Func<IReadOnlyList<LeaseEvent>?, Task> apply,
        Action<Exception> failed,
        Action synced,
        CancellationToken cancellationToken)
    {
        await foreach (var step in manager.WatchLeasesAsync(cancellationToken).ConfigureAwait(false))
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var events = Apply(step);
                try
                {
                    await apply(events).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    failed(ex);
                }

                if (events is null)
                {
                    synced();
                }
            }
            finally
            {
                gate.Release();
            }
        }
    }

    private static (System.Net.IPNetwork? V4, System.Net.IPNetwork? V6) Key(Lease lease) => (lease.Subnet, lease.IPv6Subnet);
}
