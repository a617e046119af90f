namespace Flannel.Internal;

/// <summary>
/// The per-node lease cache behind <see cref="LeaseWatcher"/> (flannel's leaseWatcher): turns snapshots and raw
/// events into the events a backend should act on, with last-known attributes on removals and the own lease filtered.
/// Not thread-safe; one per watch.
/// </summary>
internal sealed class PeerLeaseCache(Lease? own)
{
    private readonly List<Lease> _leases = [];

    public IReadOnlyList<Lease> Leases => _leases;

    /// <summary>
    /// Whether two leases name the same subnets, by the first one's families: IPv4-only compares IPv4, IPv6-only
    /// compares IPv6, dual-stack compares both.
    /// </summary>
    public static bool SameSubnets(Lease a, Lease b) => (a.EnableIPv4, a.EnableIPv6) switch
    {
        (true, false) => a.Subnet == b.Subnet,
        (false, true) => a.IPv6Subnet == b.IPv6Subnet,
        (true, true) => a.Subnet == b.Subnet && a.IPv6Subnet == b.IPv6Subnet,
        _ => false,
    };

    /// <summary>Whether two leases publish the same thing (subnets and attributes; expiration and revision ignored).</summary>
    public static bool SameContent(Lease a, Lease b) =>
        a.Subnet == b.Subnet && a.IPv6Subnet == b.IPv6Subnet && a.Attributes == b.Attributes;

    public bool IsOwn(Lease lease) => own is not null && SameSubnets(own, lease);

    /// <summary>Diffs a full snapshot against the cache: new → Added, changed → Added, gone → Removed (last known attributes).</summary>
    public List<LeaseEvent> Reset(IEnumerable<Lease> snapshot)
    {
        var batch = new List<LeaseEvent>();
        var next = new List<Lease>();
        foreach (var lease in snapshot)
        {
            if (IsOwn(lease) || next.Exists(l => SameSubnets(l, lease)))
            {
                continue;
            }

            next.Add(lease);
            var index = _leases.FindIndex(l => SameSubnets(l, lease));
            if (index < 0 || !SameContent(_leases[index], lease))
            {
                batch.Add(new LeaseEvent(LeaseEventKind.Added, lease));
            }
        }

        foreach (var old in _leases)
        {
            if (!next.Exists(l => SameSubnets(old, l)))
            {
                batch.Add(new LeaseEvent(LeaseEventKind.Removed, old));
            }
        }

        _leases.Clear();
        _leases.AddRange(next);
        return batch;
    }

    /// <summary>Applies raw events: Added replaces or adds (re-emitted only when something changed); Removed drops and carries the cached attributes.</summary>
    public List<LeaseEvent> Apply(IEnumerable<LeaseEvent> events)
    {
        var batch = new List<LeaseEvent>();
        foreach (var e in events)
        {
            if (IsOwn(e.Lease))
            {
                continue;
            }

            var index = _leases.FindIndex(l => SameSubnets(l, e.Lease));
            if (e.Kind == LeaseEventKind.Added)
            {
                if (index < 0)
                {
                    _leases.Add(e.Lease);
                    batch.Add(e);
                }
                else
                {
                    var changed = !SameContent(_leases[index], e.Lease);
                    _leases[index] = e.Lease;
                    if (changed)
                    {
                        batch.Add(e);
                    }
                }
            }
            else if (index >= 0)
            {
                batch.Add(new LeaseEvent(LeaseEventKind.Removed, _leases[index]));
                _leases.RemoveAt(index);
            }
            else
            {
                batch.Add(e);
            }
        }

        return batch;
    }
}
