using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Flannel.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Flannel;

/// <summary>
/// A lease store in memory, for tests and for embedding several nodes in one process: revisions, create-if-absent,
/// TTL expiry driven by a <see cref="TimeProvider"/> (expired leases produce <see cref="LeaseEventKind.Removed"/>
/// events for every watcher), and watches that resume from a revision or resynchronise with a snapshot. Thread-safe.
/// </summary>
public sealed class InMemoryLeaseRegistry : ILeaseRegistry, IDisposable
{
    private const int HistoryLimit = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<SubnetKey, Lease> _leases = [];
    private readonly List<(long Revision, LeaseEvent Event)> _history = [];
    private readonly List<Channel<LeaseWatchResult>> _watchers = [];
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private NetworkConfig? _config;
    private long _revision;
    private long _compactedThrough;
    private bool _disposed;

    /// <summary>Creates an empty store.</summary>
    /// <param name="config">The network configuration the store holds (flannel's <c>config</c> key), or null for none.</param>
    /// <param name="timeProvider">The clock that drives TTL expiry; null for the system clock.</param>
    /// <param name="loggerFactory">The logger factory, or null.</param>
    public InMemoryLeaseRegistry(NetworkConfig? config = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        _config = config;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<InMemoryLeaseRegistry>();
        _timer = _time.CreateTimer(_ => Expire(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The current store revision (incremented by every change).</summary>
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

    /// <summary>Replaces the stored network configuration (null removes it).</summary>
    /// <param name="config">The new configuration.</param>
    public void SetNetworkConfig(NetworkConfig? config)
    {
        lock (_lock)
        {
            _config = config;
        }
    }

    /// <summary>
    /// Forgets the change history, as etcd compaction does: a watch resuming from an earlier revision then receives
    /// a snapshot instead of events.
    /// </summary>
    public void CompactHistory()
    {
        lock (_lock)
        {
            _history.Clear();
            _compactedThrough = _revision;
        }
    }

    /// <inheritdoc />
    public ValueTask<NetworkConfig?> GetNetworkConfigAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return ValueTask.FromResult(_config);
        }
    }

    /// <inheritdoc />
    public ValueTask<LeaseSnapshot> ListAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            ExpireLocked();
            return ValueTask.FromResult(new LeaseSnapshot([.. _leases.Values.OrderBy(l => l.Revision)], _revision));
        }
    }

    /// <inheritdoc />
    public ValueTask<Lease?> CreateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        var key = KeyOf(lease);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            ExpireLocked();
            if (_leases.ContainsKey(key))
            {
                return ValueTask.FromResult<Lease?>(null);
            }

            return ValueTask.FromResult<Lease?>(PutLocked(key, lease, ttl));
        }
    }

    /// <inheritdoc />
    public ValueTask<Lease> UpdateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        var key = KeyOf(lease);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            ExpireLocked();
            return ValueTask.FromResult(PutLocked(key, lease, ttl));
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(IPNetwork? subnet, IPNetwork? ipv6Subnet, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (subnet is not { } v4)
        {
            return ValueTask.FromResult(false);
        }

        lock (_lock)
        {
            ExpireLocked();
            var key = new SubnetKey(v4, ipv6Subnet);
            if (!_leases.Remove(key, out var old))
            {
                return ValueTask.FromResult(false);
            }

            PublishLocked(new LeaseEvent(LeaseEventKind.Removed, old));
            ScheduleLocked();
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LeaseWatchResult> WatchAsync(long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<LeaseWatchResult>(new UnboundedChannelOptions { SingleReader = true });
        LeaseWatchResult? first;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ExpireLocked();
            if (afterRevision < _compactedThrough)
            {
                first = new LeaseWatchResult { Snapshot = [.. _leases.Values.OrderBy(l => l.Revision)], Revision = _revision };
            }
            else
            {
                var missed = _history.Where(h => h.Revision > afterRevision).Select(h => h.Event).ToList();
                first = missed.Count > 0 ? new LeaseWatchResult { Events = missed, Revision = _revision } : null;
            }

            _watchers.Add(channel);
        }

        try
        {
            if (first is not null)
            {
                yield return first;
            }

            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var item))
                {
                    yield return item;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _watchers.Remove(channel);
            }
        }
    }

    /// <summary>Stops the expiry timer and ends every watch.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var w in _watchers)
            {
                w.Writer.TryComplete();
            }
        }

        _timer.Dispose();
    }

    private static SubnetKey KeyOf(Lease lease)
    {
        ArgumentNullException.ThrowIfNull(lease);
        return SubnetKey.FromLease(lease);
    }

    private Lease PutLocked(SubnetKey key, Lease lease, TimeSpan? ttl)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var stored = lease with
        {
            Subnet = key.Subnet,
            IPv6Subnet = key.IPv6Subnet,
            Expiration = ttl is { } t ? _time.GetUtcNow() + t : null,
            Revision = _revision + 1,
        };
        _leases[key] = stored;
        PublishLocked(new LeaseEvent(LeaseEventKind.Added, stored));
        ScheduleLocked();
        return stored;
    }

    private void PublishLocked(LeaseEvent e)
    {
        _revision++;
        _history.Add((_revision, e));
        if (_history.Count > HistoryLimit)
        {
            _compactedThrough = _history[0].Revision;
            _history.RemoveAt(0);
        }

        var result = new LeaseWatchResult { Events = [e], Revision = _revision };
        foreach (var w in _watchers)
        {
            w.Writer.TryWrite(result);
        }
    }

    private void Expire()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                ExpireLocked();
                ScheduleLocked();
            }
        }
    }

    private void ExpireLocked()
    {
        var now = _time.GetUtcNow();
        List<SubnetKey>? expired = null;
        foreach (var (key, lease) in _leases)
        {
            if (lease.Expiration is { } exp && exp <= now)
            {
                (expired ??= []).Add(key);
            }
        }

        if (expired is null)
        {
            return;
        }

        foreach (var key in expired)
        {
            _leases.Remove(key, out var old);
            CoreLog.InMemoryLeaseExpired(_logger, key);
            PublishLocked(new LeaseEvent(LeaseEventKind.Removed, old!));
        }
    }

    private void ScheduleLocked()
    {
        if (_disposed)
        {
            return;
        }

        DateTimeOffset? next = null;
        foreach (var lease in _leases.Values)
        {
            if (lease.Expiration is { } exp && (next is null || exp < next))
            {
                next = exp;
            }
        }

        var due = next is { } n ? n - _time.GetUtcNow() : Timeout.InfiniteTimeSpan;
        if (next is not null && due < TimeSpan.Zero)
        {
            due = TimeSpan.Zero;
        }

        _timer.Change(due, Timeout.InfiniteTimeSpan);
    }
}
