using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;
using dotnet_etcd;
using dotnet_etcd.interfaces;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Mvccpb;

namespace Flannel.Etcd;

/// <summary>
/// flannel's etcd v3 registry: leases under <c>&lt;prefix&gt;/subnets/10.5.52.0-24</c> (dual stack:
/// <c>10.5.52.0-24&amp;fc00:0:0:34::-64</c>) with Go flanneld's JSON values, the network configuration at
/// <c>&lt;prefix&gt;/config</c>, one etcd lease per TTL'd key, create by transaction, watch by prefix from a revision.
/// Nodes running Go flanneld and nodes running Flannel.Net can share one etcd.
/// </summary>
/// <remarks>
/// Differences from flanneld, all deliberate fixes: keys without an etcd lease (reservations) stay without TTL
/// (<see cref="Lease.Expiration"/> null) and are re-written without one; after a renewal re-puts a key with a fresh
/// etcd lease, the superseded etcd lease is revoked when no key uses it any more (flanneld leaks one per renewal);
/// a lost create race returns null so that the lease manager retries; removal events carry the last attributes
/// (the watch asks etcd for the previous value); a watch that finds the store behind its revision re-lists.
/// </remarks>
public sealed class EtcdLeaseRegistry : ILeaseRegistry, IDisposable
{
    private const string SubnetsDir = "/subnets/";
    private static readonly TimeSpan TtlJitter = TimeSpan.FromSeconds(2);
    private readonly EtcdLeaseRegistryOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly GrpcChannel? _channel;
    private readonly EtcdClient? _ownedClient;
    private readonly KV.KVClient _kv;
    private readonly Etcdserverpb.Lease.LeaseClient _leases;
    private readonly Watch.WatchClient _watch;
    private readonly Auth.AuthClient _auth;
    private readonly string _prefix;
    private readonly Flannel.Stores.BadRecordReports _reportedBad = new();
    private readonly ByteString _subnetsKey;
    private readonly ByteString _subnetsEnd;
    private readonly ConcurrentDictionary<long, (DateTimeOffset Expiry, DateTimeOffset CheckedAt, bool Own)> _ttlCache = new();
    private readonly DecodedLeases _decoded = new();
    private readonly SemaphoreSlim _authLock = new(1, 1);
    private volatile string? _token;

    /// <summary>Connects to the etcd endpoints in <paramref name="options"/> (lazily, on first request).</summary>
    /// <param name="options">Endpoints, prefix, TLS, credentials and timeouts.</param>
    /// <param name="logger">Receives warnings about skipped keys and watch reconnections.</param>
    /// <param name="timeProvider">The clock used to turn etcd TTLs into expirations.</param>
    /// <exception cref="FlannelConfigurationException">An endpoint is not an http(s) URL, or the TLS files cannot be read.</exception>
    public EtcdLeaseRegistry(EtcdLeaseRegistryOptions options, ILogger<EtcdLeaseRegistry>? logger = null, TimeProvider? timeProvider = null)
        : this(options, logger, timeProvider, client: null)
    {
    }

    /// <summary>Creates a registry over an existing dotnet-etcd client (its channel, TLS and credentials); the client stays the caller's to dispose.</summary>
    /// <param name="client">The client.</param>
    /// <param name="options">The prefix and timeouts (endpoints, TLS and credentials are ignored).</param>
    /// <param name="logger">Receives warnings about skipped keys and watch reconnections.</param>
    /// <param name="timeProvider">The clock used to turn etcd TTLs into expirations.</param>
    /// <returns>The registry.</returns>
    public static EtcdLeaseRegistry ForClient(EtcdClient client, EtcdLeaseRegistryOptions options, ILogger<EtcdLeaseRegistry>? logger = null, TimeProvider? timeProvider = null) =>
        new(options, logger, timeProvider, client ?? throw new ArgumentNullException(nameof(client)));

    private EtcdLeaseRegistry(EtcdLeaseRegistryOptions options, ILogger? logger, TimeProvider? timeProvider, EtcdClient? client)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _prefix = NormalisePrefix(options.Prefix);
        _subnetsKey = ByteString.CopyFromUtf8(_prefix + SubnetsDir);
        _subnetsEnd = PrefixEnd(_subnetsKey);

        IConnection connection;
        if (client is null)
        {
            _channel = CreateChannel(options, _logger);
            _ownedClient = new EtcdClient(_channel.CreateCallInvoker());
            connection = _ownedClient.GetConnection();
        }
        else
        {
            connection = client.GetConnection();
        }

        _kv = connection.KVClient;
        _leases = connection.LeaseClient;
        _watch = connection.WatchClient;
        _auth = connection.AuthClient;
    }

    /// <summary>How many key versions this registry holds decoded (tests).</summary>
    internal int DecodedCount => _decoded.Count;

    /// <summary>The normalised key prefix (no trailing slash).</summary>
    public string Prefix => _prefix;

    /// <summary>The etcd key of the network configuration (<c>&lt;prefix&gt;/config</c>).</summary>
    public string ConfigKey => _prefix + "/config";

    /// <summary>The etcd key of a lease (<c>&lt;prefix&gt;/subnets/10.5.52.0-24</c>).</summary>
    /// <param name="subnet">The IPv4 subnet.</param>
    /// <param name="ipv6Subnet">The IPv6 subnet, if any.</param>
    /// <returns>The key.</returns>
    public string LeaseKey(IPNetwork subnet, IPNetwork? ipv6Subnet = null) => _prefix + SubnetsDir + SubnetKey.Format(subnet, ipv6Subnet);

    /// <inheritdoc />
    public async ValueTask<NetworkConfig?> GetNetworkConfigAsync(CancellationToken cancellationToken)
    {
        var resp = await Call("get config", ConfigKey, (h, d, ct) => _kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(ConfigKey) }, h, d, ct), cancellationToken).ConfigureAwait(false);
        return resp.Kvs.Count == 0 ? null : NetworkConfig.Parse(resp.Kvs[0].Value.Span);
    }

    /// <summary>Writes the network configuration to <c>&lt;prefix&gt;/config</c> (what <c>etcdctl put</c> does for flanneld).</summary>
    /// <param name="json">The net-conf.json text; it must parse.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when etcd stored it.</returns>
    /// <exception cref="FlannelConfigurationException">The text is not a valid configuration.</exception>
    public async ValueTask SetNetworkConfigAsync(string json, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(json);
        _ = NetworkConfig.Parse(json);
        await Call("put config", ConfigKey, (h, d, ct) => _kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(ConfigKey), Value = ByteString.CopyFromUtf8(json) }, h, d, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes the network configuration to <c>&lt;prefix&gt;/config</c> as net-conf.json.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when etcd stored it.</returns>
    public ValueTask SetNetworkConfigAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        return SetNetworkConfigAsync(config.ToJson(), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<LeaseSnapshot> ListAsync(CancellationToken cancellationToken) =>
        (await ListCoreAsync(cancellationToken).ConfigureAwait(false)).Snapshot;

    /// <summary>Lists the leases, sharing decoded ones with every reader of this registry; also returns the generation.</summary>
    private async Task<(LeaseSnapshot Snapshot, long Generation)> ListCoreAsync(CancellationToken cancellationToken)
    {
        var floor = _decoded.Revision;
        var resp = await Call("list", _prefix + SubnetsDir, (h, d, ct) => _kv.RangeAsync(new RangeRequest { Key = _subnetsKey, RangeEnd = _subnetsEnd }, h, d, ct), cancellationToken).ConfigureAwait(false);
        var generation = Observe(resp.Header, floor);
        var revision = resp.Header.Revision;
        _decoded.Expect(resp.Kvs.Count);
        var pending = new List<Pending>(resp.Kvs.Count);
        foreach (var kv in resp.Kvs)
        {
            if (Lookup(kv, listedAt: revision) is { } p)
            {
                pending.Add(p);
            }
        }

        var expirations = await ExpirationsAsync(pending, cancellationToken).ConfigureAwait(false);
        var leases = new List<Lease>(pending.Count);
        foreach (var p in pending)
        {
            leases.Add(Complete(p, expirations, generation, listedAt: revision));
        }

        _decoded.Sweep(revision, generation);
        return (new LeaseSnapshot(leases, revision), generation);
    }

    /// <inheritdoc />
    public async ValueTask<Lease?> CreateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var key = LeaseKeyOf(lease);
        var keyBytes = ByteString.CopyFromUtf8(key);
        var value = ByteString.CopyFrom(lease.Attributes.ToUtf8Json());
        var (leaseId, expiration) = ttl is { } t ? await GrantAsync(t, key, cancellationToken).ConfigureAwait(false) : (0L, (DateTimeOffset?)null);
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = keyBytes, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = keyBytes, Value = value, Lease = leaseId } });
        TxnResponse resp;
        try
        {
            resp = await Call("create", key, (h, d, ct) => _kv.TxnAsync(txn, h, d, ct), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await RevokeQuietly(leaseId).ConfigureAwait(false);
            throw;
        }

        if (!resp.Succeeded)
        {
            await RevokeQuietly(leaseId).ConfigureAwait(false);
            return null;
        }

        return lease with { Expiration = expiration, Revision = resp.Header.Revision };
    }

    /// <inheritdoc />
    public async ValueTask<Lease> UpdateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var key = LeaseKeyOf(lease);
        var (leaseId, expiration) = ttl is { } t ? await GrantAsync(t, key, cancellationToken).ConfigureAwait(false) : (0L, (DateTimeOffset?)null);
        PutResponse resp;
        try
        {
            var put = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(lease.Attributes.ToUtf8Json()), Lease = leaseId, PrevKv = true };
            resp = await Call("update", key, (h, d, ct) => _kv.PutAsync(put, h, d, ct), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await RevokeQuietly(leaseId).ConfigureAwait(false);
            throw;
        }

        if (resp.PrevKv is { Lease: not 0 } prev && prev.Lease != leaseId)
        {
            await RevokeIfUnusedAsync(prev.Lease).ConfigureAwait(false);
        }

        return lease with { Expiration = expiration, Revision = resp.Header.Revision };
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(IPNetwork? subnet, IPNetwork? ipv6Subnet, CancellationToken cancellationToken)
    {
        var key = _prefix + SubnetsDir + SubnetKey.Format(subnet ?? throw new ArgumentException("flannel's lease key needs an IPv4 subnet", nameof(subnet)), ipv6Subnet);
        var resp = await Call("delete", key, (h, d, ct) => _kv.DeleteRangeAsync(new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key), PrevKv = true }, h, d, ct), cancellationToken).ConfigureAwait(false);
        foreach (var prev in resp.PrevKvs)
        {
            if (prev.Lease != 0)
            {
                await RevokeIfUnusedAsync(prev.Lease).ConfigureAwait(false);
            }
        }

        return resp.Deleted > 0;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LeaseWatchResult> WatchAsync(long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var results = Channel.CreateBounded<LeaseWatchResult>(new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = Task.Run(() => PumpWatch(afterRevision, results.Writer, stop.Token), CancellationToken.None);
        try
        {
            while (await results.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (results.Reader.TryRead(out var r))
                {
                    yield return r;
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await pump.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Closes the connection this registry opened (an injected client is left alone).</summary>
    public void Dispose()
    {
        _ownedClient?.Dispose();
        _channel?.Dispose();
        _authLock.Dispose();
    }

    // ---------------------------------------------------------------- watch

    private async Task PumpWatch(long afterRevision, ChannelWriter<LeaseWatchResult> writer, CancellationToken ct)
    {
        var position = new WatchPosition { Revision = afterRevision };
        var delay = _options.ReconnectMinDelay;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    var healthy = await WatchOnce(position, writer, ct).ConfigureAwait(false);
                    if (healthy)
                    {
                        delay = _options.ReconnectMinDelay;
                    }

                    continue; // the server ended the stream or asked for a re-list: reopen at once
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is RpcException or EtcdStoreException or IOException or HttpRequestException or InvalidOperationException or WatchCanceledException)
                {
                    if (ct.IsCancellationRequested)
                    {
                        return;
                    }

                    Log.WatchFailed(_logger, ex, _prefix, position.Revision, delay);
                }

                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            writer.TryComplete(ex); // not a store outage: surface it to the consumer instead of ending silently
        }
        finally
        {
            writer.TryComplete();
        }
    }

    /// <summary>One watch stream from <paramref name="position"/>, which it advances; returns whether the stream was established.</summary>
    private async Task<bool> WatchOnce(WatchPosition position, ChannelWriter<LeaseWatchResult> writer, CancellationToken ct)
    {
        var headers = await HeadersAsync(ct).ConfigureAwait(false) ?? [];
        headers.Add("hasleader", "true"); // etcd's WithRequireLeader: the stream fails when the member loses its leader
        using var call = _watch.Watch(headers, cancellationToken: ct);
        var create = new WatchCreateRequest { Key = _subnetsKey, RangeEnd = _subnetsEnd, StartRevision = position.Revision + 1, PrevKv = true, ProgressNotify = true };
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = create }, ct).ConfigureAwait(false);
        var healthy = false;
        while (await call.ResponseStream.MoveNext(ct).ConfigureAwait(false))
        {
            var resp = call.ResponseStream.Current;
            if (resp.CompactRevision != 0 || (resp.Canceled && resp.CancelReason.Contains("compacted", StringComparison.OrdinalIgnoreCase)))
            {
                Log.WatchCompacted(_logger, _prefix, position.Revision, resp.CompactRevision);
                await Resync(position, writer, ct).ConfigureAwait(false);
                return true;
            }

            if (resp.Canceled)
            {
                throw new WatchCanceledException($"etcd canceled the watch on {_prefix}{SubnetsDir}: {resp.CancelReason}");
            }

            // Every response is checked against the store this watch follows: a revision below the position, or a
            // generation change (another cluster id, or a revision going back seen by any reader of this registry),
            // means the position belongs to a store that is gone, and only a new listing is right.
            var generation = Observe(resp.Header, position.Revision);
            if (resp.Header.Revision < position.Revision)
            {
                Log.StoreReset(_logger, resp.Header.Revision, position.Revision);
                await Resync(position, writer, ct).ConfigureAwait(false);
                return true;
            }

            if (position.Generation != 0 && generation != position.Generation)
            {
                Log.WatchStoreReplaced(_logger, _prefix, position.Revision);
                await Resync(position, writer, ct).ConfigureAwait(false);
                return true;
            }

            position.Generation = generation;
            if (resp.Created)
            {
                healthy = true;
                Log.WatchEstablished(_logger, _prefix, position.Revision);
                continue;
            }

            if (resp.Events.Count == 0)
            {
                // A progress notification: etcd sends it only when this watcher has every event up to the header
                // revision, so a reconnect may resume there (and need not re-list after an unrelated compaction).
                position.Revision = Math.Max(position.Revision, resp.Header.Revision);
                continue;
            }

            var events = await DecodeEventsAsync(resp.Events, generation, ct).ConfigureAwait(false);
            var reached = resp.Events.Max(e => e.Kv.ModRevision);
            position.Revision = Math.Max(position.Revision, reached);
            if (events.Count > 0)
            {
                await writer.WriteAsync(new LeaseWatchResult { Events = events, Revision = position.Revision }, ct).ConfigureAwait(false);
            }
        }

        return healthy;
    }

    private async Task Resync(WatchPosition position, ChannelWriter<LeaseWatchResult> writer, CancellationToken ct)
    {
        var (snap, generation) = await ListCoreAsync(ct).ConfigureAwait(false);
        await writer.WriteAsync(new LeaseWatchResult { Snapshot = snap.Leases, Revision = snap.Revision }, ct).ConfigureAwait(false);
        position.Revision = snap.Revision;
        position.Generation = generation;
    }

    private async Task<List<LeaseEvent>> DecodeEventsAsync(Google.Protobuf.Collections.RepeatedField<Event> events, long generation, CancellationToken ct)
    {
        // Puts first look for the version another reader decoded; only the rest is parsed. Deletions take the last
        // attributes from the cached version when prev_kv is that version, and drop the key from the cache.
        var pending = new List<Pending>(events.Count);
        foreach (var e in events)
        {
            if (e.Type == Event.Types.EventType.Put && Lookup(e.Kv, listedAt: 0) is { } p)
            {
                pending.Add(p);
            }
        }

        var expirations = await ExpirationsAsync(pending, ct).ConfigureAwait(false);
        var result = new List<LeaseEvent>(events.Count);
        var next = 0;
        foreach (var e in events)
        {
            if (e.Type == Event.Types.EventType.Put)
            {
                if (next < pending.Count && ReferenceEquals(pending[next].Kv, e.Kv))
                {
                    result.Add(new LeaseEvent(LeaseEventKind.Added, Complete(pending[next++], expirations, generation, listedAt: 0)));
                }
            }
            else
            {
                // A deletion (explicit or TTL expiry). The previous value, when etcd still has it, gives the attributes.
                var kv = e.PrevKv is { } prev && prev.Key == e.Kv.Key ? prev : e.Kv;
                if (!kv.Value.IsEmpty && _decoded.Find(kv.Key, kv.ModRevision, kv.Value, listedAt: 0) is { } known)
                {
                    result.Add(new LeaseEvent(LeaseEventKind.Removed, new Lease { Subnet = known.Subnet, IPv6Subnet = known.IPv6Subnet, Attributes = known.Attributes, Revision = e.Kv.ModRevision }));
                }
                else if (TryDecode(kv, removal: true, out var subnet, out var v6, out var attrs))
                {
                    result.Add(new LeaseEvent(LeaseEventKind.Removed, new Lease { Subnet = subnet, IPv6Subnet = v6, Attributes = attrs, Revision = e.Kv.ModRevision }));
                }

                _decoded.Remove(e.Kv.Key, e.Kv.ModRevision);
            }
        }

        return result;
    }

    // ---------------------------------------------------------------- shared decoding

    /// <summary>Takes note of a response header (see <see cref="DecodedLeases.Observe"/>); a new store also voids the TTL cache.</summary>
    private long Observe(ResponseHeader header, long floor)
    {
        var o = _decoded.Observe(header, floor);
        if (o.Reset)
        {
            _ttlCache.Clear();
            Log.StoreChanged(_logger, o.PreviousClusterId, header.ClusterId, o.PreviousRevision, header.Revision, o.Dropped);
        }

        return o.Generation;
    }

    /// <summary>The cached lease of this key version, or its decoded parts; null (with the usual warning) when it does not decode.</summary>
    private Pending? Lookup(KeyValue kv, long listedAt)
    {
        if (_decoded.Find(kv.Key, kv.ModRevision, kv.Value, listedAt) is { } known)
        {
            return new Pending(kv, known, default, null, null);
        }

        return TryDecode(kv, removal: false, out var subnet, out var v6, out var attrs) ? new Pending(kv, null, subnet, v6, attrs) : null;
    }

    /// <summary>The lease of a looked-up key version with its expiration: the cached object when that matches too, else a new one, kept.</summary>
    private Lease Complete(Pending p, Dictionary<long, DateTimeOffset?> expirations, long generation, long listedAt)
    {
        var expiration = p.Kv.Lease == 0 ? null : expirations[p.Kv.Lease];
        Lease lease;
        if (p.Known is { } known)
        {
            if (known.Expiration == expiration)
            {
                return known;
            }

            lease = known with { Expiration = expiration };
        }
        else
        {
            lease = new Lease { Subnet = p.Subnet, IPv6Subnet = p.IPv6Subnet, Attributes = p.Attributes!, Expiration = expiration, Revision = p.Kv.ModRevision };
        }

        return _decoded.Share(p.Kv.Key, p.Kv.Value, lease, generation, listedAt);
    }

    /// <summary>A key version to return: either a cached lease (<paramref name="Known"/>) or the decoded parts of a new one.</summary>
    private readonly record struct Pending(KeyValue Kv, Lease? Known, IPNetwork Subnet, IPNetwork? IPv6Subnet, LeaseAttributes? Attributes);

    /// <summary>Where a watch stands: the last revision delivered and the store generation it belongs to (0: not yet known).</summary>
    private sealed class WatchPosition
    {
        public long Revision { get; set; }

        public long Generation { get; set; }
    }

    // ---------------------------------------------------------------- etcd leases (TTL)

    private async Task<(long Id, DateTimeOffset? Expiration)> GrantAsync(TimeSpan ttl, string key, CancellationToken cancellationToken)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(ttl.TotalSeconds));
        var resp = await Call("grant", key, (h, d, ct) => _leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = seconds }, h, d, ct), cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(resp.Error))
        {
            throw new FlannelException($"etcd refused a {seconds} s lease for {key}: {resp.Error}");
        }

        var now = _time.GetUtcNow();
        var expiry = now.AddSeconds(resp.TTL);
        _ttlCache[resp.ID] = (expiry, now, true);
        return (resp.ID, expiry);
    }

    /// <summary>Expiration (now + remaining TTL, as flanneld computes it) of each distinct etcd lease id.</summary>
    private async Task<Dictionary<long, DateTimeOffset?>> ExpirationsAsync(List<Pending> pending, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var result = new Dictionary<long, DateTimeOffset?>(pending.Count);
        List<long>? missing = null;
        foreach (var p in pending)
        {
            var id = p.Kv.Lease;
            if (id == 0 || result.ContainsKey(id))
            {
                continue;
            }

            if (_ttlCache.TryGetValue(id, out var c) && (c.Own || now - c.CheckedAt < TimeSpan.FromMinutes(1)))
            {
                result[id] = c.Expiry;
            }
            else
            {
                result[id] = null; // filled below
                (missing ??= []).Add(id);
            }
        }

        if (missing is not null)
        {
            var found = new ConcurrentDictionary<long, DateTimeOffset>();
            await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = cancellationToken }, async (id, ct) =>
            {
                var resp = await Call("ttl", id.ToString(System.Globalization.CultureInfo.InvariantCulture), (h, d, c) => _leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = id }, h, d, c), ct).ConfigureAwait(false);
                var at = _time.GetUtcNow();
                var expiry = at.AddSeconds(Math.Max(0, resp.TTL)); // -1: the lease is gone; the key is being deleted
                var fetched = (Expiry: expiry, CheckedAt: at, Own: false);

                // etcd reports whole seconds: the same deadline, estimated again (or by two readers at once), moves by
                // up to a second plus the round trip. The first estimate is kept, so that every reader computes the
                // same expiration and the decoded leases stay shared and stable.
                var kept = resp.TTL > 0
                    ? _ttlCache.AddOrUpdate(id, fetched, (_, before) => (expiry - before.Expiry).Duration() <= TtlJitter ? (before.Expiry, at, before.Own) : fetched)
                    : _ttlCache[id] = fetched;
                found[id] = kept.Expiry;
            }).ConfigureAwait(false);
            foreach (var (id, expiry) in found)
            {
                result[id] = expiry;
            }
        }

        if (_ttlCache.Count > 4096)
        {
            foreach (var (id, c) in _ttlCache)
            {
                if (c.Expiry < now - TimeSpan.FromMinutes(5))
                {
                    _ttlCache.TryRemove(id, out _);
                }
            }
        }

        return result;
    }

    private async Task RevokeIfUnusedAsync(long leaseId)
    {
        try
        {
            using var cts = new CancellationTokenSource(_options.RequestTimeout);
            var ttl = await Call("ttl", leaseId.ToString(System.Globalization.CultureInfo.InvariantCulture), (h, d, ct) => _leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = leaseId, Keys = true }, h, d, ct), cts.Token).ConfigureAwait(false);
            if (ttl.TTL > 0 && ttl.Keys.Count == 0)
            {
                await RevokeQuietly(leaseId).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is FlannelException or OperationCanceledException)
        {
            Log.RevokeFailed(_logger, ex, leaseId);
        }
    }

    private async Task RevokeQuietly(long leaseId)
    {
        if (leaseId == 0)
        {
            return;
        }

        _ttlCache.TryRemove(leaseId, out _);
        try
        {
            using var cts = new CancellationTokenSource(_options.RequestTimeout);
            await Call("revoke", leaseId.ToString(System.Globalization.CultureInfo.InvariantCulture), (h, d, ct) => _leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = leaseId }, h, d, ct), cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FlannelException or OperationCanceledException)
        {
            Log.RevokeFailed(_logger, ex, leaseId);
        }
    }

    // ---------------------------------------------------------------- decoding

    private void ReportSkipped(string key, long revision, string reason)
    {
        var level = _reportedBad.LevelFor(key, revision); // remembered whether or not the level is logged
        Log.SkippingKey(_logger, level, key, reason);
    }

    private bool TryDecode(KeyValue kv, bool removal, out IPNetwork subnet, out IPNetwork? ipv6Subnet, out LeaseAttributes attrs)
    {
        var key = kv.Key.ToStringUtf8();
        attrs = new LeaseAttributes();
        ipv6Subnet = null;
        var suffix = key.StartsWith(_prefix + SubnetsDir, StringComparison.Ordinal) ? key[(_prefix.Length + SubnetsDir.Length)..] : key;
        subnet = default;
        try
        {
            (subnet, ipv6Subnet) = SubnetKey.Parse(suffix);
        }
        catch (LeaseFormatException ex)
        {
            ReportSkipped(key, kv.ModRevision, ex.Message);
            return false;
        }

        if (removal && kv.Value.IsEmpty)
        {
            return true; // a deletion without the previous value: the subnet is what matters
        }

        try
        {
            attrs = LeaseAttributes.Parse(kv.Value.Span);
            return true;
        }
        catch (LeaseFormatException ex)
        {
            ReportSkipped(key, kv.ModRevision, ex.Message);
            if (removal)
            {
                attrs = new LeaseAttributes();
                return true;
            }

            return false;
        }
    }

    private string LeaseKeyOf(Lease lease) => _prefix + SubnetsDir + SubnetKey.FromLease(lease);

    // ---------------------------------------------------------------- calls, auth, channel

    private async Task<T> Call<T>(string op, string key, Func<Metadata?, DateTime, CancellationToken, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var headers = await HeadersAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await call(headers, DateTime.UtcNow + _options.RequestTimeout, cancellationToken).ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (RpcException ex) when (attempt == 0 && _options.Username is not null && IsAuthFailure(ex))
            {
                _token = null; // expired token: authenticate again and retry once
            }
            catch (RpcException ex)
            {
                throw new EtcdStoreException($"etcd {op} {key} failed: {ex.StatusCode}: {ex.Status.Detail}", ex);
            }
        }
    }

    private static bool IsAuthFailure(RpcException ex) =>
        ex.StatusCode == StatusCode.Unauthenticated || ex.Status.Detail.Contains("invalid auth token", StringComparison.OrdinalIgnoreCase);

    private async Task<Metadata?> HeadersAsync(CancellationToken cancellationToken)
    {
        if (_options.Username is not { } user)
        {
            return null;
        }

        var token = _token;
        if (token is null)
        {
            await _authLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                token = _token;
                if (token is null)
                {
                    try
                    {
                        var resp = await _auth.AuthenticateAsync(new AuthenticateRequest { Name = user, Password = _options.Password ?? string.Empty }, deadline: DateTime.UtcNow + _options.RequestTimeout, cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
                        token = _token = resp.Token;
                        Log.Authenticated(_logger, user);
                    }
                    catch (RpcException ex)
                    {
                        throw new EtcdStoreException($"etcd authentication as {user} failed: {ex.StatusCode}: {ex.Status.Detail}", ex);
                    }
                }
            }
            finally
            {
                _authLock.Release();
            }
        }

        return new Metadata { { "token", token } };
    }

    private static GrpcChannel CreateChannel(EtcdLeaseRegistryOptions options, ILogger logger)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new FlannelConfigurationException("Endpoints", null, "at least one etcd endpoint is required");
        }

        var uris = new List<Uri>();
        foreach (var e in options.Endpoints)
        {
            if (!Uri.TryCreate(e.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Port <= 0)
            {
                throw new FlannelConfigurationException("Endpoints", e, "must be an http:// or https:// URL with a port, such as http://127.0.0.1:2379");
            }

            uris.Add(uri);
        }

        var secure = uris.Any(u => u.Scheme == Uri.UriSchemeHttps);
        if (secure && uris.Any(u => u.Scheme != Uri.UriSchemeHttps))
        {
            throw new FlannelConfigurationException("Endpoints", string.Join(",", options.Endpoints), "must all be http:// or all be https://");
        }

        if ((options.CertFile is null) != (options.KeyFile is null))
        {
            throw new FlannelConfigurationException(options.CertFile is null ? "CertFile" : "KeyFile", null, "a client certificate needs both CertFile and KeyFile");
        }

        if (!secure && options.CertFile is null)
        {
            Log.PlainHttp(logger, string.Join(",", options.Endpoints));
        }

        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.DialTimeout,
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        };
        if (secure)
        {
            handler.SslOptions = TlsOptions(options);
        }

        var channelOptions = new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        };
        if (uris.Count == 1)
        {
            return GrpcChannel.ForAddress(uris[0], channelOptions);
        }

        var addresses = uris.Select(u => new BalancerAddress(u.Host, u.Port)).ToArray();
        channelOptions.Credentials = secure ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
        channelOptions.ServiceProvider = new ResolverServices(new StaticResolverFactory(_ => addresses));
        channelOptions.ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new PickFirstConfig() } };
        return GrpcChannel.ForAddress("static:///etcd", channelOptions);
    }

    private static SslClientAuthenticationOptions TlsOptions(EtcdLeaseRegistryOptions options)
    {
        var ssl = new SslClientAuthenticationOptions { EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13 };

        // Which file is being read, so the error names the one to fix rather than all three.
        var reading = "CertFile";
        var path = options.CertFile;
        try
        {
            if (options.CertFile is { } cert && options.KeyFile is { } key)
            {
                foreach (var (field, file) in new[] { ("CertFile", cert), ("KeyFile", key) })
                {
                    (reading, path) = (field, file);
                    if (!File.Exists(file))
                    {
                        throw new FileNotFoundException("no such file", file);
                    }
                }

                (reading, path) = ("CertFile", cert);
                ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(cert, key)];
            }

            if (options.CaFile is { } caFile)
            {
                (reading, path) = ("CaFile", caFile);
                var ca = new X509Certificate2Collection();
                ca.ImportFromPemFile(caFile);
                ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    using var leaf = new X509Certificate2(certificate);
                    var nameOk = (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
                    return nameOk && chain.Build(leaf);
                };
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            var why = ex is FileNotFoundException or DirectoryNotFoundException ? "no such file" : ex.Message;
            throw new FlannelConfigurationException(reading, path, $"cannot load the etcd TLS {(reading == "CaFile" ? "CA certificate" : "client certificate and key")}: {why}", ex);
        }

        return ssl;
    }

    private static string NormalisePrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var p = prefix.Trim().TrimEnd('/');
        if (p.Length == 0 || p[0] != '/')
        {
            throw new FlannelConfigurationException("Prefix", prefix, "must be an absolute key path such as /coreos.com/network");
        }

        return p;
    }

    private static ByteString PrefixEnd(ByteString prefix)
    {
        var bytes = prefix.ToByteArray();
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            if (bytes[i] < 0xFF)
            {
                bytes[i]++;
                return ByteString.CopyFrom(bytes, 0, i + 1);
            }
        }

        return ByteString.CopyFrom(0);
    }

    // GrpcChannel looks its resolvers up as IEnumerable<ResolverFactory> (a lone ResolverFactory is not found, and
    // the channel of several endpoints failed with "No address resolver configured for the scheme 'static'").
    private sealed class ResolverServices(ResolverFactory factory) : IServiceProvider
    {
        public object? GetService(Type serviceType) =>
            serviceType == typeof(IEnumerable<ResolverFactory>) ? new[] { factory } : serviceType == typeof(ResolverFactory) ? factory : null;
    }

    private sealed class WatchCanceledException(string message) : Exception(message);
}
