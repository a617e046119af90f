using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SQLitePCL;

namespace Flannel.Sqlite;

/// <summary>
/// The embedded lease store: one SQLite file, shared safely by every daemon on the machine that opens it, with
/// the semantics of flannel's etcd registry (TTL expiry, a global revision, watch from a revision, reservations,
/// transactional create-if-absent). Lease keys and values use flannel's etcd text formats, so a database can be
/// inspected with the <c>sqlite3</c> shell.
/// </summary>
/// <remarks>
/// Every change runs in a <c>BEGIN IMMEDIATE</c> transaction in WAL mode, so a process killed mid-write leaves the
/// previous state. Each change bumps the revision and appends to an event log that watchers poll. Expiry is
/// evaluated by whoever sees an expired row first (a writer, a lister or a watcher): the row is deleted in a
/// transaction that logs a removal event, so every watcher sees exactly one removal. A subnet can be held by one
/// key only (unique columns), so two nodes can never hold the same subnet, even through keys that differ in their
/// IPv6 part.
/// </remarks>
public sealed class SqliteLeaseRegistry : ILeaseRegistry, IDisposable
{
    private const int SchemaVersion = 1;
    private const int KindPut = 0;
    private const int KindDelete = 1;

    // How long a watcher keeps its connection: a file deleted and created again is followed within this time.
    private static readonly TimeSpan WatchConnectionLifetime = TimeSpan.FromSeconds(5);

    private readonly SqliteLeaseRegistryOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _connectionString;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private readonly Lock _decodedLock = new();
    private readonly Flannel.Stores.BadRecordReports _reportedBad = new();

    // The leases last decoded, by the revision that wrote them (unique in one database). A row version is read and
    // decoded once, so the snapshots and events that every watcher of a node reads (its peer watch, its own-lease
    // watch, the backend's watch) share one Lease per row version instead of reading and parsing the same text for
    // each. The cache belongs to one database identity (a random token stored at creation): a file deleted and
    // created again, whose revisions start over, never serves a stale lease. Bounded: rebuilt from every snapshot,
    // and dropped when the versions written since outgrow it.
    private Dictionary<long, Lease> _decoded = [];
    private string? _decodedIdentity;
    private long _decodedRevision;
    private int _decodedBound = 1024;
    private volatile bool _initialized;

    /// <summary>Creates a registry over the database file named in <paramref name="options"/> (created on first use).</summary>
    /// <param name="options">The file and tuning options.</param>
    /// <param name="logger">Receives warnings about skipped records and expiries.</param>
    /// <param name="timeProvider">The clock used for expiry (defaults to the system clock).</param>
    public SqliteLeaseRegistry(SqliteLeaseRegistryOptions options, ILogger<SqliteLeaseRegistry>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            throw new FlannelConfigurationException("Path", options.Path, "the lease database path must not be empty");
        }

        if (options.PollInterval <= TimeSpan.Zero)
        {
            throw new FlannelConfigurationException("PollInterval", options.PollInterval.ToString(), "must be positive");
        }

        if (options.EventRetention < 1)
        {
            throw new FlannelConfigurationException("EventRetention", options.EventRetention.ToString(CultureInfo.InvariantCulture), "must be at least 1");
        }

        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
    }

    /// <summary>The database file.</summary>
    public string Path => _options.Path;

    /// <inheritdoc />
    public async ValueTask<NetworkConfig?> GetNetworkConfigAsync(CancellationToken cancellationToken)
    {
        var json = await Run(conn =>
        {
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT value FROM config WHERE id = 1";
            return cmd.ExecuteScalar() as string;
        }, cancellationToken).ConfigureAwait(false);
        return json is null ? null : NetworkConfig.Parse(json);
    }

    /// <summary>
    /// Stores the network configuration (flannel's net-conf.json text, as etcd's <c>&lt;prefix&gt;/config</c>
    /// holds it). The text must parse; it is validated again by the lease manager when read.
    /// </summary>
    /// <param name="json">The configuration JSON.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the configuration is stored.</returns>
    /// <exception cref="FlannelConfigurationException">The text is not a valid configuration.</exception>
    public async ValueTask SetNetworkConfigAsync(string json, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(json);
        _ = NetworkConfig.Parse(json);
        var rev = await Write((conn, tx, now) =>
        {
            using var cmd = Command(conn, tx, "INSERT INTO config(id, value) VALUES (1, @v) ON CONFLICT(id) DO UPDATE SET value = excluded.value");
            cmd.Parameters.AddWithValue("@v", json);
            cmd.ExecuteNonQuery();
            return ReadRevision(conn, tx);
        }, cancellationToken).ConfigureAwait(false);
        Log.ConfigStored(_logger, _options.Path, rev);
    }

    /// <summary>Stores the network configuration (written as net-conf.json).</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the configuration is stored.</returns>
    public ValueTask SetNetworkConfigAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        return SetNetworkConfigAsync(config.ToJson(), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<LeaseSnapshot> ListAsync(CancellationToken cancellationToken)
    {
        await SweepIfNeeded(cancellationToken).ConfigureAwait(false);
        return await Run(conn => ReadSnapshot(conn), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<Lease?> CreateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var key = SubnetKey.FromLease(lease).ToString();
        var value = lease.Attributes.ToJson();
        return Write<Lease?>((conn, tx, now) =>
        {
            using (var check = Command(conn, tx, "SELECT 1 FROM leases WHERE key = @k OR subnet4 = @s4 OR subnet6 = @s6 LIMIT 1"))
            {
                check.Parameters.AddWithValue("@k", key);
                check.Parameters.AddWithValue("@s4", (object?)lease.Subnet?.ToString() ?? DBNull.Value);
                check.Parameters.AddWithValue("@s6", (object?)lease.IPv6Subnet?.ToString() ?? DBNull.Value);
                if (check.ExecuteScalar() is not null)
                {
                    return null;
                }
            }

            var expires = ttl is { } t ? now + (long)t.TotalMilliseconds : (long?)null;
            var rev = ReadRevision(conn, tx) + 1;
            using (var ins = Command(conn, tx, "INSERT INTO leases(key, value, expires_ms, mod_revision, subnet4, subnet6) VALUES (@k, @v, @e, @r, @s4, @s6)"))
            {
                ins.Parameters.AddWithValue("@k", key);
                ins.Parameters.AddWithValue("@v", value);
                ins.Parameters.AddWithValue("@e", (object?)expires ?? DBNull.Value);
                ins.Parameters.AddWithValue("@r", rev);
                ins.Parameters.AddWithValue("@s4", (object?)lease.Subnet?.ToString() ?? DBNull.Value);
                ins.Parameters.AddWithValue("@s6", (object?)lease.IPv6Subnet?.ToString() ?? DBNull.Value);
                ins.ExecuteNonQuery();
            }

            AppendEvent(conn, tx, rev, key, KindPut, value, expires);
            return lease with { Expiration = ToTime(expires), Revision = rev };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<Lease> UpdateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        var key = SubnetKey.FromLease(lease).ToString();
        var value = lease.Attributes.ToJson();
        try
        {
            return await Write((conn, tx, now) =>
            {
                var expires = ttl is { } t ? now + (long)t.TotalMilliseconds : (long?)null;
                var rev = ReadRevision(conn, tx) + 1;
                using (var up = Command(conn, tx, """
                    INSERT INTO leases(key, value, expires_ms, mod_revision, subnet4, subnet6) VALUES (@k, @v, @e, @r, @s4, @s6)
                    ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms, mod_revision = excluded.mod_revision
                    """))
                {
                    up.Parameters.AddWithValue("@k", key);
                    up.Parameters.AddWithValue("@v", value);
                    up.Parameters.AddWithValue("@e", (object?)expires ?? DBNull.Value);
                    up.Parameters.AddWithValue("@r", rev);
                    up.Parameters.AddWithValue("@s4", (object?)lease.Subnet?.ToString() ?? DBNull.Value);
                    up.Parameters.AddWithValue("@s6", (object?)lease.IPv6Subnet?.ToString() ?? DBNull.Value);
                    up.ExecuteNonQuery();
                }

                AppendEvent(conn, tx, rev, key, KindPut, value, expires);
                return lease with { Expiration = ToTime(expires), Revision = rev };
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteStoreException ex) when (ex.InnerException is SqliteException { SqliteErrorCode: 19 })
        {
            throw new FlannelException($"cannot write lease {key}: one of its subnets is already held by another lease key", ex);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(IPNetwork? subnet, IPNetwork? ipv6Subnet, CancellationToken cancellationToken)
    {
        var key = SubnetKey.Format(subnet ?? throw new ArgumentException("flannel's lease key needs an IPv4 subnet", nameof(subnet)), ipv6Subnet);
        return Write((conn, tx, now) =>
        {
            string? value;
            long? expires;
            using (var sel = Command(conn, tx, "SELECT value, expires_ms FROM leases WHERE key = @k"))
            {
                sel.Parameters.AddWithValue("@k", key);
                using var r = sel.ExecuteReader();
                if (!r.Read())
                {
                    return false;
                }

                value = r.GetString(0);
                expires = r.IsDBNull(1) ? null : r.GetInt64(1);
            }

            var rev = ReadRevision(conn, tx) + 1;
            using (var del = Command(conn, tx, "DELETE FROM leases WHERE key = @k"))
            {
                del.Parameters.AddWithValue("@k", key);
                del.ExecuteNonQuery();
            }

            AppendEvent(conn, tx, rev, key, KindDelete, value, expires);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LeaseWatchResult> WatchAsync(long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = afterRevision;
        var failureDelay = TimeSpan.Zero;

        // A watcher keeps its own connection and one prepared check: an idle poll is one small read (the revision,
        // whether a row is due to expire, the file's identity), not a connection open and two queries. Events are
        // read only when the revision moved; expired rows are swept only when one is due. The connection is renewed
        // every few seconds, so a file that was deleted and created again is followed (a new identity: a snapshot).
        WatchConnection? watch = null;
        string? identity = null;
        var justSwept = false;
        using var tick = new PeriodicTimer(_options.PollInterval, _time); // no timer allocated per idle poll
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                LeaseWatchResult? result = null;
                try
                {
                    await EnsureInitialized(cancellationToken).ConfigureAwait(false);
                    if (watch is not null && _time.GetElapsedTime(watch.OpenedAt) > WatchConnectionLifetime)
                    {
                        watch.Dispose();
                        watch = null;
                    }

                    watch ??= WatchConnection.Open(Open(), _time.GetTimestamp());
                    var check = watch.Check(NowMs());
                    if (check.ExpiryDue && !justSwept)
                    {
                        // The same predicate as the sweep: the write deletes what made the check say so. Should it
                        // remove nothing (a row it cannot match), the watcher goes on polling instead of spinning.
                        justSwept = true;
                        Log.SweepDue(_logger);
                        await Write((_, _, _) => 0, cancellationToken).ConfigureAwait(false); // every write sweeps first
                        continue;
                    }

                    justSwept = false;
                    var replaced = identity is not null && check.Identity != identity;
                    identity = check.Identity;
                    if (replaced || check.Revision != last)
                    {
                        result = Poll(watch.Connection, last, forceSnapshot: replaced);
                    }

                    failureDelay = TimeSpan.Zero;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    yield break;
                }
                catch (Exception ex) when (ex is SqliteException or SqliteStoreException or IOException)
                {
                    watch?.Dispose();
                    watch = null;
                    failureDelay = failureDelay == TimeSpan.Zero ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromTicks(Math.Min(failureDelay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                    Log.PollFailed(_logger, ex, failureDelay);
                }

                if (result is not null)
                {
                    last = result.Revision;
                    yield return result;
                    continue; // more may be pending; poll again at once
                }

                try
                {
                    if (failureDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(failureDelay, _time, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await tick.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
            }
        }
        finally
        {
            watch?.Dispose();
        }
    }

    /// <summary>Returns the pooled connections of this database file to the operating system.</summary>
    public void Dispose()
    {
        using var conn = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(conn);
        _initLock.Dispose();
    }

    // ---- watch ----

    private LeaseWatchResult? Poll(SqliteConnection conn, long last, bool forceSnapshot = false)
    {
        using var tx = conn.BeginTransaction(deferred: true);
        var (rev, horizon) = ReadCounters(conn, tx);
        if (rev == last && !forceSnapshot)
        {
            return null;
        }

        var identity = ReadIdentity(conn, tx);

        UseCacheOf(identity, rev);

        if (forceSnapshot || last < horizon || last > rev)
        {
            // Behind the pruned event log (like etcd compaction), ahead of a store that was restored, or on a file
            // that was deleted and created again.
            Log.WatcherResync(_logger, last, horizon);
            var snap = ReadSnapshot(conn, tx);
            return new LeaseWatchResult { Snapshot = snap.Leases, Revision = snap.Revision };
        }

        var events = new List<LeaseEvent>();
        using (var cmd = Command(conn, tx, "SELECT revision, key, kind, value, expires_ms FROM events WHERE revision > @a AND revision <= @b ORDER BY revision"))
        {
            cmd.Parameters.AddWithValue("@a", last);
            cmd.Parameters.AddWithValue("@b", rev);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var revision = r.GetInt64(0);
                var removal = r.GetInt32(2) == KindDelete;
                var expires = r.IsDBNull(4) ? (long?)null : r.GetInt64(4);
                if (!removal && Cached(revision, expires, identity) is { } cached)
                {
                    events.Add(new LeaseEvent(LeaseEventKind.Added, cached));
                    continue;
                }

                var key = r.GetString(1);
                var value = r.IsDBNull(3) ? null : r.GetString(3);
                if (TryDecode(key, value, expires, revision, removal, out var lease))
                {
                    events.Add(new LeaseEvent(removal ? LeaseEventKind.Removed : LeaseEventKind.Added, lease));
                    if (!removal)
                    {
                        Remember(lease, identity);
                    }
                }
            }
        }

        tx.Commit();
        return new LeaseWatchResult { Events = events, Revision = rev };
    }

    // ---- reads ----

    private LeaseSnapshot ReadSnapshot(SqliteConnection conn, SqliteTransaction? outer = null)
    {
        var tx = outer ?? conn.BeginTransaction(deferred: true);
        try
        {
            var (rev, _) = ReadCounters(conn, tx);
            var identity = ReadIdentity(conn, tx);
            UseCacheOf(identity, rev);
            var now = NowMs();
            var leases = new List<Lease>();
            var decodedNow = 0;
            using (var cmd = Command(conn, tx, "SELECT key, value, expires_ms, mod_revision FROM leases ORDER BY key"))
            {
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    var expires = r.IsDBNull(2) ? (long?)null : r.GetInt64(2);
                    if (expires is { } e && e <= now)
                    {
                        continue; // expired; the next writer or watcher deletes it and reports the removal
                    }

                    var revision = r.GetInt64(3);
                    if (Cached(revision, expires, identity) is not { } lease)
                    {
                        if (!TryDecode(r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), expires, revision, false, out lease))
                        {
                            continue;
                        }

                        decodedNow++;
                    }

                    leases.Add(lease);
                }
            }

            lock (_decodedLock)
            {
                // Keep exactly this snapshot's row versions (unless every row was known and nothing else is held).
                if (identity is not null && identity == _decodedIdentity && (decodedNow > 0 || _decoded.Count != leases.Count))
                {
                    var decoded = new Dictionary<long, Lease>(leases.Count);
                    foreach (var lease in leases)
                    {
                        decoded[lease.Revision] = lease;
                    }

                    _decoded = decoded;
                    _decodedBound = Math.Max(1024, decoded.Count * 2);
                }
            }

            if (outer is null)
            {
                tx.Commit();
            }

            return new LeaseSnapshot(leases, rev);
        }
        finally
        {
            if (outer is null)
            {
                tx.Dispose();
            }
        }
    }

    /// <summary>
    /// Keeps the decode cache only while it describes this file: the same identity token and a revision that did not
    /// go back (a restored copy carries the token but rewinds the revision; its new writes reuse revision numbers).
    /// </summary>
    private void UseCacheOf(string? identity, long revision)
    {
        lock (_decodedLock)
        {
            if (identity != _decodedIdentity || revision < _decodedRevision)
            {
                _decoded = [];
                _decodedIdentity = identity;
            }

            _decodedRevision = revision;
        }
    }

    /// <summary>The lease decoded for this row version: same revision and same expiry (a second guard after a restore).</summary>
    private Lease? Cached(long revision, long? expires, string? identity)
    {
        lock (_decodedLock)
        {
            return identity is not null && identity == _decodedIdentity && _decoded.TryGetValue(revision, out var lease)
                && lease.Expiration?.ToUnixTimeMilliseconds() == expires
                ? lease
                : null;
        }
    }

    private void Remember(Lease lease, string? identity)
    {
        lock (_decodedLock)
        {
            if (identity is null || identity != _decodedIdentity)
            {
                return;
            }

            if (_decoded.Count >= _decodedBound)
            {
                _decoded = []; // the next snapshot fills it again
            }

            _decoded[lease.Revision] = lease;
        }
    }

    private void ReportSkipped(string key, long revision, string reason)
    {
        var level = _reportedBad.LevelFor(key, revision); // remembered whether or not the level is logged
        Log.SkippingRecord(_logger, level, key, reason);
    }

    private bool TryDecode(string key, string? value, long? expires, long revision, bool removal, out Lease lease)
    {
        lease = null!;
        SubnetKey subnetKey;
        try
        {
            subnetKey = SubnetKey.Parse(key);
        }
        catch (LeaseFormatException ex)
        {
            ReportSkipped(key, revision, ex.Message);
            return false;
        }

        var (subnet, v6) = (subnetKey.Subnet, subnetKey.IPv6Subnet);
        LeaseAttributes attrs;
        try
        {
            attrs = value is null ? new LeaseAttributes() : LeaseAttributes.Parse(value);
        }
        catch (LeaseFormatException ex)
        {
            if (!removal)
            {
                ReportSkipped(key, revision, ex.Message);
                return false;
            }

            attrs = new LeaseAttributes(); // a removal still matters without its attributes
        }

        lease = new Lease { Subnet = subnet, IPv6Subnet = v6, Attributes = attrs, Expiration = ToTime(expires), Revision = revision };
        return true;
    }

    private static (long Revision, long Horizon) ReadCounters(SqliteConnection conn, SqliteTransaction tx)
    {
        using var cmd = Command(conn, tx, "SELECT revision, horizon FROM state WHERE id = 1");
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.GetInt64(1));
    }

    /// <summary>The file's identity token; null (the decode cache is off) in a file made without one.</summary>
    private static string? ReadIdentity(SqliteConnection conn, SqliteTransaction? tx)
    {
        try
        {
            using var cmd = Command(conn, tx, "SELECT token FROM identity WHERE id = 1");
            return cmd.ExecuteScalar() as string;
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 1)
        {
            return null; // no such table: written by a version without it
        }
    }

    private static long ReadRevision(SqliteConnection conn, SqliteTransaction tx) => ReadCounters(conn, tx).Revision;

    // ---- writes ----

    private async ValueTask SweepIfNeeded(CancellationToken cancellationToken)
    {
        var any = await Run(conn =>
        {
            using var cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT 1 FROM leases WHERE expires_ms IS NOT NULL AND expires_ms <= @now LIMIT 1";
            cmd.Parameters.AddWithValue("@now", NowMs());
            return cmd.ExecuteScalar() is not null;
        }, cancellationToken).ConfigureAwait(false);
        if (any)
        {
            await Write((_, _, _) => 0, cancellationToken).ConfigureAwait(false); // every write sweeps first
        }
    }

    /// <summary>Runs <paramref name="body"/> in a BEGIN IMMEDIATE transaction, after deleting expired rows, then prunes old events.</summary>
    private ValueTask<T> Write<T>(Func<SqliteConnection, SqliteTransaction, long, T> body, CancellationToken cancellationToken) =>
        Run(conn =>
        {
            using var tx = conn.BeginTransaction(deferred: false);
            var now = NowMs();
            Sweep(conn, tx, now);
            var result = body(conn, tx, now);
            Prune(conn, tx);
            tx.Commit();
            return result;
        }, cancellationToken);

    private void Sweep(SqliteConnection conn, SqliteTransaction tx, long now)
    {
        List<(string Key, string Value, long Expires)>? expired = null;
        using (var sel = Command(conn, tx, "SELECT key, value, expires_ms FROM leases WHERE expires_ms IS NOT NULL AND expires_ms <= @now ORDER BY key"))
        {
            sel.Parameters.AddWithValue("@now", now);
            using var r = sel.ExecuteReader();
            while (r.Read())
            {
                (expired ??= []).Add((r.GetString(0), r.GetString(1), r.GetInt64(2)));
            }
        }

        if (expired is null)
        {
            return;
        }

        var rev = ReadRevision(conn, tx);
        foreach (var (key, value, expires) in expired)
        {
            rev++;
            using (var del = Command(conn, tx, "DELETE FROM leases WHERE key = @k"))
            {
                del.Parameters.AddWithValue("@k", key);
                del.ExecuteNonQuery();
            }

            AppendEvent(conn, tx, rev, key, KindDelete, value, expires);
            var at = DateTimeOffset.FromUnixTimeMilliseconds(expires);
            Log.Expired(_logger, key, at, rev);
        }
    }

    private static void AppendEvent(SqliteConnection conn, SqliteTransaction tx, long rev, string key, int kind, string? value, long? expires)
    {
        using (var ev = Command(conn, tx, "INSERT INTO events(revision, key, kind, value, expires_ms) VALUES (@r, @k, @kind, @v, @e)"))
        {
            ev.Parameters.AddWithValue("@r", rev);
            ev.Parameters.AddWithValue("@k", key);
            ev.Parameters.AddWithValue("@kind", kind);
            ev.Parameters.AddWithValue("@v", (object?)value ?? DBNull.Value);
            ev.Parameters.AddWithValue("@e", (object?)expires ?? DBNull.Value);
            ev.ExecuteNonQuery();
        }

        using var st = Command(conn, tx, "UPDATE state SET revision = @r WHERE id = 1");
        st.Parameters.AddWithValue("@r", rev);
        st.ExecuteNonQuery();
    }

    private void Prune(SqliteConnection conn, SqliteTransaction tx)
    {
        var (rev, horizon) = ReadCounters(conn, tx);
        var newHorizon = rev - _options.EventRetention;
        if (newHorizon <= horizon)
        {
            return;
        }

        using var cmd = Command(conn, tx, "DELETE FROM events WHERE revision <= @h; UPDATE state SET horizon = @h WHERE id = 1");
        cmd.Parameters.AddWithValue("@h", newHorizon);
        cmd.ExecuteNonQuery();
    }

    // ---- plumbing ----

    private async ValueTask<T> Run<T>(Func<SqliteConnection, T> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await EnsureInitialized(cancellationToken).ConfigureAwait(false);
        try
        {
            using var conn = Open();
            return body(conn);
        }
        catch (SqliteException ex)
        {
            throw new SqliteStoreException($"lease database {_options.Path}: {ex.Message}", ex);
        }
    }

    private SqliteConnection Open()
    {
        var conn = new SqliteConnection(_connectionString);
        try
        {
            conn.Open();
            using var cmd = conn.CreateCommand();
            // A lease file is small (1,000 leases: ~450 KB) and hot in the OS page cache: each connection keeps at most
            // 128 KiB of pages (SQLite's default is 2 MB each, and the watchers' and writers' pooled connections would
            // each hold a copy of the whole file).
            cmd.CommandText = FormattableString.Invariant($"PRAGMA busy_timeout = {(long)_options.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -128;");
            cmd.ExecuteNonQuery();
            return conn;
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    private async ValueTask EnsureInitialized(CancellationToken cancellationToken)
    {
        if (_initialized)
        {
            return;
        }

        await _initLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_initialized)
            {
                return;
            }

            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_options.Path));
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }

            try
            {
                using var conn = Open();
                using (var wal = conn.CreateCommand())
                {
                    wal.CommandText = "PRAGMA journal_mode = WAL";
                    wal.ExecuteNonQuery();
                }

                using var tx = conn.BeginTransaction(deferred: false);
                using (var cmd = Command(conn, tx, """
                    CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL, horizon INTEGER NOT NULL, schema_version INTEGER NOT NULL);
                    INSERT OR IGNORE INTO state(id, revision, horizon, schema_version) VALUES (1, 0, 0, 1);
                    CREATE TABLE IF NOT EXISTS config (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL);
                    CREATE TABLE IF NOT EXISTS leases (
                        key TEXT PRIMARY KEY,
                        value TEXT NOT NULL,
                        expires_ms INTEGER,
                        mod_revision INTEGER NOT NULL,
                        subnet4 TEXT UNIQUE,
                        subnet6 TEXT UNIQUE);
                    CREATE INDEX IF NOT EXISTS leases_expiry ON leases(expires_ms) WHERE expires_ms IS NOT NULL;
                    CREATE TABLE IF NOT EXISTS events (revision INTEGER PRIMARY KEY, key TEXT NOT NULL, kind INTEGER NOT NULL, value TEXT, expires_ms INTEGER);
                    CREATE TABLE IF NOT EXISTS identity (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL);
                    INSERT OR IGNORE INTO identity(id, token) VALUES (1, lower(hex(randomblob(16))));
                    """))
                {
                    cmd.ExecuteNonQuery();
                }

                int version;
                using (var v = Command(conn, tx, "SELECT schema_version FROM state WHERE id = 1"))
                {
                    version = Convert.ToInt32(v.ExecuteScalar(), CultureInfo.InvariantCulture);
                }

                if (version != SchemaVersion)
                {
                    throw new FlannelConfigurationException("Path", _options.Path, $"the lease database has schema version {version}; this library reads version {SchemaVersion}");
                }

                tx.Commit();
                Log.Opened(_logger, _options.Path, version);
            }
            catch (SqliteException ex)
            {
                throw new SqliteStoreException($"cannot open the lease database {_options.Path}: {ex.Message}", ex);
            }

            _initialized = true;
        }
        finally
        {
            _initLock.Release();
        }
    }

    private static SqliteCommand Command(SqliteConnection conn, SqliteTransaction? tx, string sql)
    {
        var cmd = conn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return cmd;
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private static DateTimeOffset? ToTime(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;

    /// <summary>
    /// A watcher's connection with its prepared idle check, run on SQLite's own statement API: an idle poll (several a
    /// second per watcher) binds one integer, steps once and reads three columns, allocating nothing — the ADO.NET
    /// reader, the boxed parameter and a fresh identity string per poll were most of the daemon's idle garbage.
    /// </summary>
    private sealed class WatchConnection : IDisposable
    {
        private const string CheckSql = """
            SELECT revision,
                   EXISTS (SELECT 1 FROM leases WHERE expires_ms IS NOT NULL AND expires_ms <= @now),
                   (SELECT token FROM identity WHERE id = 1)
            FROM state WHERE id = 1
            """;

        // A file made without the identity table (no such table): watch without it.
        private const string CheckSqlWithoutIdentity = """
            SELECT revision,
                   EXISTS (SELECT 1 FROM leases WHERE expires_ms IS NOT NULL AND expires_ms <= @now),
                   NULL
            FROM state WHERE id = 1
            """;

        private readonly sqlite3_stmt _check;
        private byte[] _identityBytes = [];
        private string? _identity;

        private WatchConnection(SqliteConnection connection, long openedAt)
        {
            Connection = connection;
            OpenedAt = openedAt;
            var db = connection.Handle!;
            var rc = raw.sqlite3_prepare_v2(db, CheckSql, out _check);
            if (rc == raw.SQLITE_ERROR)
            {
                _check.Dispose();
                rc = raw.sqlite3_prepare_v2(db, CheckSqlWithoutIdentity, out _check);
            }

            if (rc != raw.SQLITE_OK)
            {
                var message = raw.sqlite3_errmsg(db).utf8_to_string();
                _check.Dispose();
                throw new SqliteException($"SQLite Error {rc}: '{message}'.", rc);
            }
        }

        public SqliteConnection Connection { get; }

        /// <summary>When the connection was opened (a <see cref="TimeProvider"/> timestamp).</summary>
        public long OpenedAt { get; }

        /// <summary>Takes <paramref name="connection"/>; disposes it when the check cannot be prepared.</summary>
        public static WatchConnection Open(SqliteConnection connection, long openedAt)
        {
            try
            {
                return new WatchConnection(connection, openedAt);
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>
        /// The revision, whether a row is due to expire at <paramref name="now"/> (the sweep's own predicate) and the
        /// file's identity, read atomically. The identity string is the same instance for as long as it does not change.
        /// </summary>
        public (long Revision, bool ExpiryDue, string? Identity) Check(long now)
        {
            try
            {
                raw.sqlite3_bind_int64(_check, 1, now);
                var rc = raw.sqlite3_step(_check);
                if (rc != raw.SQLITE_ROW)
                {
                    // SQLITE_DONE: the state row is missing — the file is not (or no longer) a lease store.
                    var message = rc == raw.SQLITE_DONE ? "the state row is missing" : raw.sqlite3_errmsg(Connection.Handle!).utf8_to_string();
                    throw new SqliteException($"SQLite Error {rc}: '{message}'.", rc);
                }

                var revision = raw.sqlite3_column_int64(_check, 0);
                var due = raw.sqlite3_column_int(_check, 1) != 0;
                if (raw.sqlite3_column_type(_check, 2) == raw.SQLITE_NULL)
                {
                    return (revision, due, null);
                }

                var token = raw.sqlite3_column_blob(_check, 2);
                if (_identity is null || !token.SequenceEqual(_identityBytes))
                {
                    _identityBytes = token.ToArray();
                    _identity = Encoding.UTF8.GetString(token);
                }

                return (revision, due, _identity);
            }
            finally
            {
                raw.sqlite3_reset(_check);
            }
        }

        public void Dispose()
        {
            _check.Dispose();
            Connection.Dispose();
        }
    }
}
