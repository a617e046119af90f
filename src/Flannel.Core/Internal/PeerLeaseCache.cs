using System.Net;

namespace Flannel.Internal;

/// <summary>
/// The per-node lease cache behind <see cref="LeaseWatcher"/> (flannel's leaseWatcher): turns snapshots and raw
/// events into the events a backend should act on, with last-known attributes on removals and the own lease filtered.
/// Not thread-safe; one per watch.
/// </summary>
internal sealed class PeerLeaseCache
{
    private readonly Lease? _own;

    public PeerLeaseCache(Lease? own, int capacity = 0)
    {
        _own = own;
        _leases = new List<Lease>(capacity);
        _index = new Dictionary<IPNetwork, Lease>(capacity);
    }

    // The leases in arrival order (the order events are reported in), and an index by primary subnet (IPv4, else
    // IPv6: 32-byte entries, so a few thousand peers stay off the large object heap). While every lease has the same
    // families (the normal cluster) and no two share a primary subnet, "same subnets" means the same primary subnet
    // and the index answers in one probe; a cache that mixes IPv4-only, IPv6-only and dual-stack leases (a cluster
    // changing its families), or holds two leases with one primary subnet, compares by each cached lease's
    // families, as flannel does.
    private List<Lease> _leases;
    private Dictionary<IPNetwork, Lease> _index;
    private (bool V4, bool V6)? _shape;
    private bool _mixed;

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

    public bool IsOwn(Lease lease) => _own is not null && SameSubnets(_own, lease);

    /// <summary>Diffs a full snapshot against the cache: new → Added, changed → Added, gone → Removed (last known attributes).</summary>
    public List<LeaseEvent> Reset(IEnumerable<Lease> snapshot)
    {
        var batch = new List<LeaseEvent>();
        var next = new PeerLeaseCache(_own, snapshot.TryGetNonEnumeratedCount(out var count) ? count : 0);
        foreach (var lease in snapshot)
        {
            if (IsOwn(lease) || next.Find(lease) is not null)
            {
                continue;
            }

            next.Add(lease);
            if (Find(lease) is not { } known || !SameContent(known, lease))
            {
                batch.Add(new LeaseEvent(LeaseEventKind.Added, lease));
            }
        }

        foreach (var old in _leases)
        {
            if (!next.ContainsSameAs(old))
            {
                batch.Add(new LeaseEvent(LeaseEventKind.Removed, old));
            }
        }

        _leases = next._leases;
        _index = next._index;
        _shape = next._shape;
        _mixed = next._mixed;
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

            var known = Find(e.Lease);
            if (e.Kind == LeaseEventKind.Added)
            {
                if (known is null)
                {
                    Add(e.Lease);
                    batch.Add(e);
                }
                else
                {
                    var changed = !SameContent(known, e.Lease);
                    Replace(known, e.Lease);
                    if (changed)
                    {
                        batch.Add(e);
                    }
                }
            }
            else if (known is not null)
            {
                batch.Add(new LeaseEvent(LeaseEventKind.Removed, known));
                Remove(known);
            }
            else
            {
                batch.Add(e);
            }
        }

        return batch;
    }

    private static IPNetwork Key(Lease lease) => lease.Subnet ?? lease.IPv6Subnet!.Value;

    /// <summary>The first cached lease with the same subnets as <paramref name="lease"/> (by the cached lease's families).</summary>
    private Lease? Find(Lease lease)
    {
        if (!lease.EnableIPv4 && !lease.EnableIPv6)
        {
            return null; // no subnets: flannel's comparison never matches such a lease
        }

        if (!_mixed && (_shape is null || _shape == (lease.EnableIPv4, lease.EnableIPv6)))
        {
            return _index.TryGetValue(Key(lease), out var indexed) && SameSubnets(indexed, lease) ? indexed : null;
        }

        foreach (var l in _leases)
        {
            if (SameSubnets(l, lease))
            {
                return l;
            }
        }

        return null;
    }

    /// <summary>Whether a cached lease has the same subnets as <paramref name="old"/> by <paramref name="old"/>'s families.</summary>
    private bool ContainsSameAs(Lease old)
    {
        if (!old.EnableIPv4 && !old.EnableIPv6)
        {
            return false;
        }

        if (!_mixed && (_shape is null || _shape == (old.EnableIPv4, old.EnableIPv6)))
        {
            return _index.TryGetValue(Key(old), out var indexed) && SameSubnets(old, indexed);
        }

        foreach (var l in _leases)
        {
            if (SameSubnets(old, l))
            {
                return true;
            }
        }

        return false;
    }

    private void Add(Lease lease)
    {
        _leases.Add(lease);
        if (!lease.EnableIPv4 && !lease.EnableIPv6)
        {
            return; // never matched (see Find), so not indexed
        }

        var shape = (lease.EnableIPv4, lease.EnableIPv6);
        _shape ??= shape;
        _mixed |= _shape != shape || !_index.TryAdd(Key(lease), lease);
    }

    private void Replace(Lease known, Lease lease)
    {
        _leases[IndexOf(known)] = lease;
        if (_index.TryGetValue(Key(known), out var indexed) && ReferenceEquals(indexed, known))
        {
            _index.Remove(Key(known));
        }

        var shape = (lease.EnableIPv4, lease.EnableIPv6);
        _mixed |= _shape != shape || !_index.TryAdd(Key(lease), lease);
    }

    private int IndexOf(Lease known)
    {
        for (var i = 0; i < _leases.Count; i++)
        {
            if (ReferenceEquals(_leases[i], known))
            {
                return i;
            }
        }

        throw new InvalidOperationException("the lease is not in the cache");
    }

    private void Remove(Lease known)
    {
        _leases.RemoveAt(IndexOf(known));
        if (_index.TryGetValue(Key(known), out var indexed) && ReferenceEquals(indexed, known))
        {
            _index.Remove(Key(known));
        }
    }
}
