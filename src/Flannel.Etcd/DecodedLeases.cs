using Etcdserverpb;
using Google.Protobuf;

namespace Flannel.Etcd;

/// <summary>
/// The leases one registry decoded last, one per key: the snapshots and watch events of all its readers (a node's
/// peer watch, its own-lease watch, the backend's and the traffic rules' watches, the lease manager) share one
/// <see cref="Lease"/> per key version instead of each parsing the same value again.
/// </summary>
/// <remarks>
/// <para>
/// A cached lease is served only for the same key, the same <c>mod_revision</c> and the same value bytes (compared,
/// not assumed), with the same expiration: decoding is a function of exactly these, so a hit can never be stale,
/// whatever happened to the store. A recreated etcd can reuse a revision for another value under the same key, and
/// a single-member etcd recreated with the same peer URLs and cluster token even keeps its cluster id (etcd derives
/// the member and cluster ids from those), so identity alone cannot be trusted to tell the stores apart.
/// </para>
/// <para>
/// The cache follows one store identity, a generation: it is emptied when a response comes from another cluster id,
/// or when a read issued after revision R was seen answers with a revision below R (the store was recreated or
/// restored). Compaction does not change the generation. Bounded: one entry per key; a deletion drops its key, a
/// listing drops the keys it no longer contains, and past twice the last listing (at least 1,024) it starts over.
/// </para>
/// </remarks>
internal sealed class DecodedLeases
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ByteString, Entry> _entries = [];
    private ulong _clusterId;
    private long _revision;
    private long _generation = 1;
    private int _bound = 1024;

    /// <summary>The highest store revision seen in this generation: a read issued now must not answer below it.</summary>
    public long Revision
    {
        get
        {
            lock (_lock)
            {
                return _revision;
            }
        }
    }

    /// <summary>The number of keys held (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Takes note of a response header. <paramref name="floor"/> is a revision this store reported before the request
    /// was made (a later response cannot be below it unless the store went back).
    /// </summary>
    /// <returns>The generation the response belongs to, and whether it started a new one (with what was dropped).</returns>
    public Observation Observe(ResponseHeader header, long floor)
    {
        lock (_lock)
        {
            Observation result;
            if ((_clusterId != 0 && header.ClusterId != _clusterId) || header.Revision < floor)
            {
                result = new Observation(_generation + 1, true, _clusterId, _revision, _entries.Count);
                _entries.Clear();
                _generation++;
                _revision = header.Revision;
            }
            else
            {
                result = new Observation(_generation, false, _clusterId, _revision, 0);
                _revision = Math.Max(_revision, header.Revision);
            }

            _clusterId = header.ClusterId;
            return result;
        }
    }

    /// <summary>Sets the bound from the size of a listing about to be decoded.</summary>
    /// <param name="keys">The number of keys listed.</param>
    public void Expect(int keys)
    {
        lock (_lock)
        {
            _bound = Math.Max(1024, keys * 2);
        }
    }

    /// <summary>The lease decoded for this exact key version (same key, revision and value bytes), or null.</summary>
    /// <param name="key">The etcd key.</param>
    /// <param name="modRevision">The key's mod_revision.</param>
    /// <param name="value">The value bytes.</param>
    /// <param name="listedAt">The revision of the listing that contains this version, 0 for a watch event.</param>
    /// <returns>The cached lease (its expiration still to be checked by the caller), or null.</returns>
    public Lease? Find(ByteString key, long modRevision, ByteString value, long listedAt)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry) || entry.Lease.Revision != modRevision || !entry.Value.Span.SequenceEqual(value.Span))
            {
                return null;
            }

            entry.ListedAt = Math.Max(entry.ListedAt, listedAt);
            return entry.Lease;
        }
    }

    /// <summary>
    /// Keeps a decoded lease for its key, unless the cache holds a newer version or changed generation, and returns
    /// the lease to hand out: when another reader decoded the same version (with the same expiration) at the same
    /// time and kept it first, that one, so that concurrent readers still share one object.
    /// </summary>
    /// <param name="key">The etcd key.</param>
    /// <param name="value">The value bytes it was decoded from.</param>
    /// <param name="lease">The lease (its <see cref="Lease.Revision"/> is the key's mod_revision).</param>
    /// <param name="generation">The generation of the response it came from.</param>
    /// <param name="listedAt">The revision of the listing that contains it, 0 for a watch event.</param>
    /// <returns>The lease to use.</returns>
    public Lease Share(ByteString key, ByteString value, Lease lease, long generation, long listedAt)
    {
        lock (_lock)
        {
            if (generation != _generation)
            {
                return lease; // the response predates a store change: it may describe the old store
            }

            if (_entries.TryGetValue(key, out var existing))
            {
                if (existing.Lease.Revision > lease.Revision)
                {
                    return lease; // a slower reader's older version: keep the newer one
                }

                if (existing.Lease.Revision == lease.Revision && existing.Lease.Expiration == lease.Expiration && existing.Value.Span.SequenceEqual(value.Span))
                {
                    existing.ListedAt = Math.Max(existing.ListedAt, listedAt);
                    return existing.Lease;
                }
            }
            else if (_entries.Count >= _bound)
            {
                _entries.Clear(); // more versions than a listing holds: the next listing fills it again
            }

            _entries[key] = new Entry(value, lease) { ListedAt = listedAt };
            return lease;
        }
    }

    /// <summary>Drops a key deleted at <paramref name="deleteRevision"/> (unless it was written again since).</summary>
    /// <param name="key">The etcd key.</param>
    /// <param name="deleteRevision">The revision of the deletion.</param>
    public void Remove(ByteString key, long deleteRevision)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && entry.Lease.Revision < deleteRevision)
            {
                _entries.Remove(key);
            }
        }
    }

    /// <summary>After a listing at <paramref name="revision"/>: drops the keys it did not contain that were written before it.</summary>
    /// <param name="revision">The listing's revision.</param>
    /// <param name="generation">The listing's generation.</param>
    public void Sweep(long revision, long generation)
    {
        lock (_lock)
        {
            if (generation != _generation)
            {
                return;
            }

            foreach (var (key, entry) in _entries)
            {
                if (entry.ListedAt < revision && entry.Lease.Revision <= revision)
                {
                    _entries.Remove(key); // deleted (or now undecodable) by that revision
                }
            }
        }
    }

    /// <summary>What <see cref="Observe"/> found.</summary>
    /// <param name="Generation">The generation of the response.</param>
    /// <param name="Reset">True when the response started a new generation (another store).</param>
    /// <param name="PreviousClusterId">The cluster id seen before.</param>
    /// <param name="PreviousRevision">The highest revision seen before.</param>
    /// <param name="Dropped">How many decoded keys were dropped.</param>
    public readonly record struct Observation(long Generation, bool Reset, ulong PreviousClusterId, long PreviousRevision, int Dropped);

    private sealed class Entry(ByteString value, Lease lease)
    {
        public ByteString Value { get; } = value;

        public Lease Lease { get; } = lease;

        public long ListedAt { get; set; }
    }
}
