using System.Diagnostics;
using System.Net;
using System.Text;
using Flannel.Etcd;
using Flannel.TestKit;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Flannel.Leases.Tests;

/// <summary>
/// The readers of one <see cref="EtcdLeaseRegistry"/> share one decoded <see cref="Lease"/> per key version, and never
/// a stale one: against a real etcd, with rewritten, deleted, malformed and recreated keys and a recreated store.
/// </summary>
public sealed class EtcdSharedDecodingTests(EtcdFixture etcd) : IClassFixture<EtcdFixture>, IDisposable
{
    private readonly string _prefix = "/fln-" + Guid.NewGuid().ToString("N")[..8] + "/coreos.com/network";
    private readonly FakeLogger<EtcdLeaseRegistry> _log = new();
    private readonly List<EtcdLeaseRegistry> _opened = [];

    private EtcdServer Server => etcd.Server;

    [Fact]
    public async Task Snapshots_and_watch_events_of_one_registry_share_the_lease_of_an_unchanged_key_version()
    {
        var r = Open();
        var writer = Open();
        await writer.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(24), L.Timeout());
        await writer.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2", "fc00:0:0:2::/64"), TimeSpan.FromHours(24), L.Timeout());
        await PutAsync("10.5.3.0-24", Value("198.18.0.3", "c6:d2:32:6f:8f:03")); // a reservation (no etcd lease)

        var first = await r.ListAsync(L.Timeout());
        var second = await r.ListAsync(L.Timeout());
        Assert.Equal(3, first.Leases.Count);
        Assert.All(first.Leases, l => Assert.Same(l, Assert.Single(second.Leases, x => x.Subnet == l.Subnet)));

        await using var w1 = new WatchRecorder(r, first);
        await using var w2 = new WatchRecorder(r, second);
        await writer.CreateAsync(L.Make("10.5.4.0/24", "198.18.0.4"), TimeSpan.FromHours(24), L.Timeout());
        await PutAsync("10.5.5.0-24", Value("198.18.0.5", "c6:d2:32:6f:8f:05"));
        await w1.WaitUntil(x => x.State.Count == 5, "both events at the first watcher");
        await w2.WaitUntil(x => x.State.Count == 5, "both events at the second watcher");
        var third = await r.ListAsync(L.Timeout());
        foreach (var subnet in new[] { "10.5.4.0/24", "10.5.5.0/24" })
        {
            var a = w1.Events.Single(e => e.Lease.Subnet == L.Net(subnet)).Lease;
            Assert.Same(a, w2.Events.Single(e => e.Lease.Subnet == L.Net(subnet)).Lease);
            Assert.Same(a, third.Leases.Single(l => l.Subnet == L.Net(subnet)));
        }

        Assert.All(first.Leases, l => Assert.Same(l, third.Leases.Single(x => x.Subnet == l.Subnet)));
        Assert.Equal(5, r.DecodedCount);

        // What is shared is a registry's own: another registry instance decodes for itself.
        var other = await Open().ListAsync(L.Timeout());
        Assert.All(other.Leases, l => Assert.NotSame(l, third.Leases.Single(x => x.Subnet == l.Subnet)));
        Assert.Equal(
            third.Leases.Select(l => (l.Subnet, l.IPv6Subnet, l.Attributes, l.Revision)).OrderBy(l => l.Revision),
            other.Leases.Select(l => (l.Subnet, l.IPv6Subnet, l.Attributes, l.Revision)).OrderBy(l => l.Revision));
    }

    [Fact]
    public async Task A_rewritten_value_is_decoded_again_even_with_the_same_bytes()
    {
        var r = Open();
        await PutAsync("10.5.1.0-24", Value("198.18.0.1", "c6:d2:32:6f:8f:01"));
        var before = await r.ListAsync(L.Timeout());
        var old = Assert.Single(before.Leases);
        await using var w1 = new WatchRecorder(r, before);
        await using var w2 = new WatchRecorder(r, before);

        var rev = await PutAsync("10.5.1.0-24", Value("198.18.0.1", "c6:d2:32:6f:8f:99")); // a new VTEP MAC
        var changed = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.NotSame(old, changed);
        Assert.Equal(rev, changed.Revision);
        Assert.Equal("c6:d2:32:6f:8f:99", changed.Attributes.BackendData!.Value.GetProperty("VtepMAC").GetString());
        await w1.WaitUntil(x => x.Revision >= rev, "the rewrite at the first watcher");
        await w2.WaitUntil(x => x.Revision >= rev, "the rewrite at the second watcher");
        Assert.Same(changed, Assert.Single(w1.Events).Lease);
        Assert.Same(changed, Assert.Single(w2.Events).Lease);

        // The same bytes written again are a new version: a new revision, so a new lease.
        var again = await PutAsync("10.5.1.0-24", Value("198.18.0.1", "c6:d2:32:6f:8f:99"));
        var rewritten = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.NotSame(changed, rewritten);
        Assert.Equal(again, rewritten.Revision);
        Assert.Equal(changed.Attributes, rewritten.Attributes);

        // A key moved from an etcd lease to none (or back) at the same value changes its expiration.
        var renewed = await r.UpdateAsync(rewritten, TimeSpan.FromHours(1), L.Timeout());
        var listed = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Equal(renewed.Revision, listed.Revision);
        Assert.NotNull(listed.Expiration);
        Assert.InRange(listed.Expiration!.Value, DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));
    }

    [Fact]
    public async Task A_deleted_and_recreated_key_is_not_served_from_the_cache()
    {
        var r = Open();
        var writer = Open();
        var bytes = Value("198.18.0.1", "c6:d2:32:6f:8f:01");
        await PutAsync("10.5.1.0-24", bytes);
        var before = await r.ListAsync(L.Timeout());
        var old = Assert.Single(before.Leases);
        await using var w1 = new WatchRecorder(r, before);
        await using var w2 = new WatchRecorder(r, before);

        Assert.True(await writer.DeleteAsync(L.Net("10.5.1.0/24"), null, L.Timeout()));
        var rev = await PutAsync("10.5.1.0-24", bytes); // the very same bytes, a new key version
        var recreated = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.NotSame(old, recreated);
        Assert.Equal(rev, recreated.Revision);

        foreach (var w in new[] { w1, w2 })
        {
            await w.WaitUntil(x => x.Revision >= rev, "the deletion and the new version");
            Assert.Equal([LeaseEventKind.Removed, LeaseEventKind.Added], w.Events.Select(e => e.Kind).ToList());
            Assert.Equal(IPAddress.Parse("198.18.0.1"), w.Events.First().Lease.Attributes.PublicIP); // the last attributes
            Assert.Same(recreated, w.Events.Last().Lease);
        }
    }

    [Fact]
    public async Task A_malformed_new_version_is_skipped_with_the_warning_for_every_reader_never_replaced_by_the_cached_one()
    {
        var r = Open();
        await PutAsync("10.5.1.0-24", Value("198.18.0.1", "c6:d2:32:6f:8f:01"));
        await PutAsync("10.5.2.0-24", Value("198.18.0.2", "c6:d2:32:6f:8f:02"));
        var before = await r.ListAsync(L.Timeout());
        Assert.Equal(2, before.Leases.Count);
        await using var w = new WatchRecorder(r, before);

        var rev = await PutAsync("10.5.1.0-24", """{"PublicIP":"not an address","PublicIPv6":null}"""u8.ToArray());
        await PutAsync("10.5.3.0-24", Value("198.18.0.3", "c6:d2:32:6f:8f:03")); // a good event after the bad one
        await w.WaitUntil(x => x.Revision > rev, "the events after the malformed value");
        Assert.DoesNotContain(w.Events, e => e.Lease.Subnet == L.Net("10.5.1.0/24"));

        for (var i = 0; i < 2; i++)
        {
            var listed = await r.ListAsync(L.Timeout());
            Assert.Equal(["10.5.2.0/24", "10.5.3.0/24"], listed.Leases.Select(l => $"{l.Subnet}").Order().ToList());
        }

        // As before the cache: the watch and each listing warn, naming the key.
        var warnings = _log.Collector.GetSnapshot().Where(e => e.Id.Id == 5000 && e.Message.Contains(_prefix + "/subnets/10.5.1.0-24", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, warnings.Count);
        Assert.All(warnings, e => Assert.Contains("PublicIP", e.Message, StringComparison.Ordinal));
        Assert.Equal(2, r.DecodedCount); // the old version of the bad key was dropped
    }

    [Fact]
    public async Task Deleted_keys_leave_the_cache_through_watch_events_and_listings()
    {
        var r = Open();
        var writer = Open();
        for (var i = 1; i <= 6; i++)
        {
            await writer.CreateAsync(L.Make($"10.5.{i}.0/24", $"198.18.0.{i}"), TimeSpan.FromHours(1), L.Timeout());
        }

        var start = await r.ListAsync(L.Timeout());
        Assert.Equal(6, r.DecodedCount);
        for (var round = 0; round < 3; round++)
        {
            await writer.UpdateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        }

        Assert.Equal(6, (await r.ListAsync(L.Timeout())).Leases.Count);
        Assert.Equal(6, r.DecodedCount); // one entry per key, not per version

        await writer.DeleteAsync(L.Net("10.5.1.0/24"), null, L.Timeout());
        await writer.DeleteAsync(L.Net("10.5.2.0/24"), null, L.Timeout());
        Assert.Equal(4, (await r.ListAsync(L.Timeout())).Leases.Count);
        Assert.Equal(4, r.DecodedCount); // a listing drops what it no longer contains

        await using var w = new WatchRecorder(r, await r.ListAsync(L.Timeout()));
        var gone = await writer.DeleteAsync(L.Net("10.5.3.0/24"), null, L.Timeout());
        Assert.True(gone);
        await w.WaitUntil(x => x.Events.Any(e => e.Kind == LeaseEventKind.Removed), "the removal");
        Assert.Equal(3, r.DecodedCount); // a watched deletion drops its key
        Assert.Equal(6, start.Leases.Count);
    }

    public void Dispose()
    {
        foreach (var r in _opened)
        {
            r.Dispose();
        }
    }

    internal static byte[] Value(string publicIp, string mac) =>
        Encoding.UTF8.GetBytes($$$"""{"PublicIP":"{{{publicIp}}}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"{{{mac}}}"}}""");

    private Task<long> PutAsync(string keySuffix, byte[] value) => Server.PutRawAsync(_prefix + "/subnets/" + keySuffix, value);

    private EtcdLeaseRegistry Open()
    {
        var r = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [Server.Endpoint], Prefix = _prefix }, _log);
        _opened.Add(r);
        return r;
    }
}

/// <summary>A store recreated under a running registry (each test owns its etcd).</summary>
public sealed class EtcdRecreatedStoreDecodingTests
{
    private const string Prefix = "/coreos.com/network";
    private const string Key = Prefix + "/subnets/10.5.1.0-24";

    [Fact]
    public async Task An_etcd_recreated_empty_that_reuses_the_revision_is_never_served_from_the_cache()
    {
        await using var server = await EtcdServer.StartAsync();
        var log = new FakeLogger<EtcdLeaseRegistry>();
        using var r = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint], Prefix = Prefix, RequestTimeout = TimeSpan.FromSeconds(3) }, log);
        for (var i = 0; i < 5; i++)
        {
            await server.PutRawAsync("/fln-filler/" + i, [1]);
        }

        var revision = await server.PutRawAsync(Key, EtcdSharedDecodingTests.Value("198.18.0.1", "c6:d2:32:6f:8f:01"));
        var old = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Equal(revision, old.Revision);

        // The store loses everything and is written again, up to the same revision, before the registry looks:
        // the same key at the same mod_revision now holds another value. (A single-member etcd recreated with the
        // same peer URLs and cluster token even keeps its cluster id, so only the value bytes can tell.)
        await RecreateEmptyAsync(server);
        Assert.Equal(revision, await FillToAsync(server, revision, EtcdSharedDecodingTests.Value("198.18.0.2", "c6:d2:32:6f:8f:02")));
        var fresh = Assert.Single((await Eventually(() => r.ListAsync(L.Timeout()))).Leases);
        Assert.Equal(revision, fresh.Revision);
        Assert.Equal(IPAddress.Parse("198.18.0.2"), fresh.Attributes.PublicIP);

        // Once the registry has seen the revision go back, it starts over: even identical bytes at the same revision
        // (an identical lease) come from a new decoding, and the change is logged.
        await RecreateEmptyAsync(server);
        Assert.Empty((await Eventually(() => r.ListAsync(L.Timeout()))).Leases);
        Assert.Contains(log.Collector.GetSnapshot(), e => e.Id.Id == 5008);
        Assert.Equal(revision, await FillToAsync(server, revision, EtcdSharedDecodingTests.Value("198.18.0.2", "c6:d2:32:6f:8f:02")));
        var again = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.NotSame(fresh, again);
        Assert.Equal(fresh, again);
    }

    [Fact]
    public async Task A_watcher_that_fails_over_to_another_cluster_at_the_same_revision_relists_and_the_cache_starts_over()
    {
        // Two independent single-member clusters (two cluster ids), both at revision 3 with the same first key:
        // the registry lists both endpoints and fails over from the first to the second.
        await using var a = await EtcdServer.StartAsync();
        await using var b = await EtcdServer.StartAsync();
        var same = EtcdSharedDecodingTests.Value("198.18.0.1", "c6:d2:32:6f:8f:01");
        await a.PutRawAsync(Prefix + "/subnets/10.5.1.0-24", same);
        Assert.Equal(3, await a.PutRawAsync(Prefix + "/subnets/10.5.2.0-24", EtcdSharedDecodingTests.Value("198.18.0.2", "c6:d2:32:6f:8f:02")));
        await b.PutRawAsync(Prefix + "/subnets/10.5.1.0-24", same);
        Assert.Equal(3, await b.PutRawAsync(Prefix + "/subnets/10.5.3.0-24", EtcdSharedDecodingTests.Value("198.18.0.3", "c6:d2:32:6f:8f:03")));

        var log = new FakeLogger<EtcdLeaseRegistry>();
        using var r = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [a.Endpoint, b.Endpoint], Prefix = Prefix, RequestTimeout = TimeSpan.FromSeconds(3) }, log);
        var start = await r.ListAsync(L.Timeout());
        Assert.Equal(["10.5.1.0/24", "10.5.2.0/24"], start.Leases.Select(l => $"{l.Subnet}").Order().ToList());
        await using var w = new WatchRecorder(r, start);
        await Task.Delay(300, TestContext.Current.CancellationToken); // let the watch stream open on the first cluster

        a.Stop();
        await w.WaitUntil(x => x.All.Any(res => res.IsSnapshot), "the snapshot of the second cluster", seconds: 60);
        Assert.Equal(["10.5.1.0/24", "10.5.3.0/24"], w.State.Values.Select(l => $"{l.Subnet}").Order().ToList());
        Assert.Contains(log.Collector.GetSnapshot(), e => e.Id.Id == 5008);

        var now = await Eventually(() => r.ListAsync(L.Timeout()));
        var key1 = now.Leases.Single(l => l.Subnet == L.Net("10.5.1.0/24"));
        Assert.NotSame(start.Leases.Single(l => l.Subnet == L.Net("10.5.1.0/24")), key1); // same key, revision and bytes, another store
        Assert.Equal(start.Leases.Single(l => l.Subnet == L.Net("10.5.1.0/24")), key1);
    }

    private static async Task RecreateEmptyAsync(EtcdServer server)
    {
        server.Stop();
        Directory.Delete(server.DataDirectory, recursive: true);
        await server.RestartAsync();
    }

    /// <summary>Writes filler keys until the next write gets <paramref name="revision"/>, then the lease key; returns its revision.</summary>
    private static async Task<long> FillToAsync(EtcdServer server, long revision, byte[] value)
    {
        for (var i = 0; await server.RevisionAsync() < revision - 1; i++)
        {
            await server.PutRawAsync("/fln-filler/" + i, [2]);
        }

        return await server.PutRawAsync(Key, value);
    }

    private static async Task<T> Eventually<T>(Func<ValueTask<T>> call)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await call();
            }
            catch (FlannelException ex) when (ex.IsTransient && sw.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(200, TestContext.Current.CancellationToken); // the connection to the restarted etcd comes back
            }
        }
    }
}
