using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Flannel.Leases.Tests;

/// <summary>
/// Store-level contract of <see cref="ILeaseRegistry"/>, run against every store: create-if-absent, update,
/// delete, revisions, reservations, TTL expiry, watch from a revision, bad records, concurrent creators.
/// </summary>
public abstract class RegistryContractTests : IAsyncLifetime
{
    protected FakeLogger Logger { get; } = new();

    /// <summary>The shortest TTL the store honours quickly (etcd rounds up to whole seconds).</summary>
    protected abstract TimeSpan ShortTtl { get; }

    /// <summary>Opens a registry over this test's (fresh) store.</summary>
    protected abstract Task<ILeaseRegistry> OpenAsync();

    /// <summary>Writes a raw record (key suffix under subnets/, value text) behind the registry's back.</summary>
    protected abstract Task PutRawAsync(string keySuffix, string value);

    /// <summary>Stores a network configuration JSON text.</summary>
    protected abstract Task SetConfigAsync(string json);

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Empty_store_lists_nothing_and_has_no_config()
    {
        var r = await OpenAsync();
        var snap = await r.ListAsync(L.Timeout());
        Assert.Empty(snap.Leases);
        Assert.Null(await r.GetNetworkConfigAsync(L.Timeout()));
    }

    [Fact]
    public async Task Config_round_trips()
    {
        var r = await OpenAsync();
        await SetConfigAsync("""{"Network": "10.5.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 2}}""");
        var config = await r.GetNetworkConfigAsync(L.Timeout());
        Assert.NotNull(config);
        Assert.Equal(L.Net("10.5.0.0/16"), config.Network);
        Assert.Equal(24, config.SubnetLen);
        Assert.Equal("vxlan", config.BackendType.Value);
    }

    [Fact]
    public async Task Create_stores_the_lease_with_ttl_and_revision()
    {
        var r = await OpenAsync();
        var before = (await r.ListAsync(L.Timeout())).Revision;
        var created = await r.CreateAsync(L.Make("10.5.52.0/24", "198.18.0.1"), TimeSpan.FromHours(24), L.Timeout());
        Assert.NotNull(created);
        Assert.True(created.Revision > before);
        Assert.NotNull(created.Expiration);
        Assert.InRange(created.Expiration.Value, DateTimeOffset.UtcNow.AddHours(23.9), DateTimeOffset.UtcNow.AddHours(24.1));

        var snap = await r.ListAsync(L.Timeout());
        var lease = Assert.Single(snap.Leases);
        Assert.Equal(L.Net("10.5.52.0/24"), lease.Subnet);
        Assert.Null(lease.IPv6Subnet);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), lease.Attributes.PublicIP);
        Assert.Equal("host-gw", lease.Attributes.BackendType);
        Assert.NotNull(lease.Expiration);
        Assert.InRange(lease.Expiration.Value, DateTimeOffset.UtcNow.AddHours(23.9), DateTimeOffset.UtcNow.AddHours(24.1));
        Assert.Equal(created.Revision, lease.Revision);
        Assert.True(snap.Revision >= created.Revision);
    }

    [Fact]
    public async Task Create_returns_null_when_the_key_exists()
    {
        var r = await OpenAsync();
        Assert.NotNull(await r.CreateAsync(L.Make("10.5.52.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout()));
        Assert.Null(await r.CreateAsync(L.Make("10.5.52.0/24", "198.18.0.2"), TimeSpan.FromHours(1), L.Timeout()));
        var lease = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), lease.Attributes.PublicIP);
    }

    [Fact]
    public async Task Dual_stack_lease_round_trips()
    {
        var r = await OpenAsync();
        var data = JsonDocument.Parse("""{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}""").RootElement.Clone();
        var lease = L.Make("10.5.52.0/24", "198.18.0.1", "fc00:0:0:34::/64", "vxlan") with
        {
            Attributes = new LeaseAttributes { PublicIP = IPAddress.Parse("198.18.0.1"), PublicIPv6 = IPAddress.Parse("fd00::1"), BackendType = "vxlan", BackendData = data, BackendV6Data = data },
        };
        Assert.NotNull(await r.CreateAsync(lease, TimeSpan.FromHours(1), L.Timeout()));
        var got = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Equal(L.Net("fc00:0:0:34::/64"), got.IPv6Subnet);
        Assert.Equal(IPAddress.Parse("fd00::1"), got.Attributes.PublicIPv6);
        Assert.Equal("c6:d2:32:6f:8f:44", got.Attributes.BackendData!.Value.GetProperty("VtepMAC").GetString());
        Assert.Equal(1, got.Attributes.BackendV6Data!.Value.GetProperty("VNI").GetInt32());
        Assert.True(await r.DeleteAsync(L.Net("10.5.52.0/24"), L.Net("fc00:0:0:34::/64"), L.Timeout()));
        Assert.Empty((await r.ListAsync(L.Timeout())).Leases);
    }

    [Fact]
    public async Task Update_rewrites_attributes_and_extends_the_ttl()
    {
        var r = await OpenAsync();
        var created = await r.CreateAsync(L.Make("10.5.52.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        var updated = await r.UpdateAsync(L.Make("10.5.52.0/24", "198.18.0.9", backendType: "vxlan"), TimeSpan.FromHours(24), L.Timeout());
        Assert.True(updated.Revision > created!.Revision);
        var lease = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Equal(IPAddress.Parse("198.18.0.9"), lease.Attributes.PublicIP);
        Assert.Equal("vxlan", lease.Attributes.BackendType);
        Assert.InRange(lease.Expiration!.Value, DateTimeOffset.UtcNow.AddHours(23.9), DateTimeOffset.UtcNow.AddHours(24.1));
    }

    [Fact]
    public async Task Reservation_has_no_ttl_and_stays_so_when_updated()
    {
        var r = await OpenAsync();
        var created = await r.CreateAsync(L.Make("10.5.9.0/24", "198.18.0.5"), ttl: null, L.Timeout());
        Assert.NotNull(created);
        Assert.True(created.IsReservation);
        var listed = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Null(listed.Expiration);

        var updated = await r.UpdateAsync(listed with { Attributes = listed.Attributes with { BackendType = "vxlan" } }, ttl: null, L.Timeout());
        Assert.Null(updated.Expiration);
        listed = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Null(listed.Expiration);
        Assert.Equal("vxlan", listed.Attributes.BackendType);
    }

    [Fact]
    public async Task Delete_removes_the_record_once()
    {
        var r = await OpenAsync();
        await r.CreateAsync(L.Make("10.5.52.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        Assert.True(await r.DeleteAsync(L.Net("10.5.52.0/24"), null, L.Timeout()));
        Assert.False(await r.DeleteAsync(L.Net("10.5.52.0/24"), null, L.Timeout()));
        Assert.Empty((await r.ListAsync(L.Timeout())).Leases);
    }

    [Fact]
    public async Task Watch_reports_adds_updates_and_removals_after_the_revision()
    {
        var r = await OpenAsync();
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        var start = await r.ListAsync(L.Timeout());
        await using var w = new WatchRecorder(r, start);

        await r.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2"), TimeSpan.FromHours(1), L.Timeout());
        await r.UpdateAsync(L.Make("10.5.1.0/24", "198.18.0.11"), TimeSpan.FromHours(1), L.Timeout());
        await r.DeleteAsync(L.Net("10.5.2.0/24"), null, L.Timeout());

        await w.WaitUntil(x => x.Events.Count() >= 3, "three events");
        var events = w.Events.ToList();
        Assert.Equal(
            [(LeaseEventKind.Added, "10.5.2.0/24"), (LeaseEventKind.Added, "10.5.1.0/24"), (LeaseEventKind.Removed, "10.5.2.0/24")],
            events.Select(e => (e.Kind, e.Lease.Subnet.ToString()!)).ToList());
        Assert.Equal(IPAddress.Parse("198.18.0.2"), events[0].Lease.Attributes.PublicIP);
        Assert.Equal(IPAddress.Parse("198.18.0.11"), events[1].Lease.Attributes.PublicIP);
        Assert.NotNull(events[1].Lease.Expiration);
        Assert.DoesNotContain(w.All, x => x.IsSnapshot);

        var final = await r.ListAsync(L.Timeout());
        Assert.Equal(final.Leases.Select(Describe).Order(), w.State.Values.Select(Describe).Order());
    }

    [Fact]
    public async Task Expired_lease_disappears_and_every_watcher_sees_its_removal()
    {
        var r = await OpenAsync();
        var start = await r.ListAsync(L.Timeout());
        await using var w1 = new WatchRecorder(r, start);
        await using var w2 = new WatchRecorder(await OpenAsync(), start);

        await r.CreateAsync(L.Make("10.5.3.0/24", "198.18.0.3"), ShortTtl, L.Timeout());
        await r.CreateAsync(L.Make("10.5.4.0/24", "198.18.0.4"), TimeSpan.FromHours(1), L.Timeout());
        await r.CreateAsync(L.Make("10.5.5.0/24", "198.18.0.5"), ttl: null, L.Timeout());

        foreach (var w in new[] { w1, w2 })
        {
            await w.WaitUntil(x => x.Events.Any(e => e.Kind == LeaseEventKind.Removed), "the expiry", seconds: 30);
            var removed = Assert.Single(w.Events, e => e.Kind == LeaseEventKind.Removed);
            Assert.Equal(L.Net("10.5.3.0/24"), removed.Lease.Subnet);
        }

        var left = (await r.ListAsync(L.Timeout())).Leases.Select(l => l.Subnet.ToString()).Order().ToList();
        Assert.Equal(["10.5.4.0/24", "10.5.5.0/24"], left);
    }

    [Fact]
    public async Task Bad_records_are_skipped_with_a_warning_naming_the_key()
    {
        var r = await OpenAsync();
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        var start = await r.ListAsync(L.Timeout());
        await using var w = new WatchRecorder(r, start);

        await PutRawAsync("not-a-subnet", """{"PublicIP":"198.18.0.7","PublicIPv6":null}""");
        await PutRawAsync("10.5.7.0-24", "{this is not json");
        await PutRawAsync("10.5.8.0-24", """{"PublicIP":12345,"PublicIPv6":null}""");
        await PutRawAsync("10.5.9.0-24", """["an","array"]""");
        await PutRawAsync("10.5.10.0-24", """{"PublicIP":"198.18.0.10","PublicIPv6":null}""");

        await w.WaitUntil(x => x.Events.Any(e => e.Lease.Subnet == L.Net("10.5.10.0/24")), "the good record's event");
        var snap = await r.ListAsync(L.Timeout());
        Assert.Equal(["10.5.1.0/24", "10.5.10.0/24"], snap.Leases.Select(l => l.Subnet.ToString()).Order().ToList());
        Assert.All(w.Events, e => Assert.Contains(e.Lease.Subnet.ToString(), new[] { "10.5.10.0/24" }));

        var warnings = Logger.Collector.GetSnapshot().Where(x => x.Level == LogLevel.Warning).Select(x => x.Message).ToList();
        foreach (var key in new[] { "not-a-subnet", "10.5.7.0-24", "10.5.8.0-24", "10.5.9.0-24" })
        {
            Assert.Contains(warnings, m => m.Contains(key, StringComparison.Ordinal));
        }

        Assert.Contains(warnings, m => m.Contains("10.5.8.0-24", StringComparison.Ordinal) && m.Contains("PublicIP", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_bad_record_is_warned_about_once_per_revision_not_on_every_read()
    {
        var r = await OpenAsync();
        await PutRawAsync("10.5.7.0-24", "{this is not json");
        await PutRawAsync("not-a-subnet", """{"PublicIP":"198.18.0.7","PublicIPv6":null}""");
        Logger.Collector.Clear(); // PutRawAsync may read through registries of its own
        for (var i = 0; i < 3; i++)
        {
            _ = await r.ListAsync(L.Timeout());
        }

        int Count(string key, LogLevel level) =>
            Logger.Collector.GetSnapshot().Count(x => x.Level == level && x.Message.Contains(key, StringComparison.Ordinal));
        Assert.Equal((1, 2), (Count("10.5.7.0-24", LogLevel.Warning), Count("10.5.7.0-24", LogLevel.Debug)));
        Assert.Equal((1, 2), (Count("not-a-subnet", LogLevel.Warning), Count("not-a-subnet", LogLevel.Debug)));

        // Written again (a new revision, still bad): worth a warning again.
        await PutRawAsync("10.5.7.0-24", "{still not json");
        Logger.Collector.Clear();
        _ = await r.ListAsync(L.Timeout());
        Assert.Equal((1, 0), (Count("10.5.7.0-24", LogLevel.Warning), Count("10.5.7.0-24", LogLevel.Debug)));
        Assert.Equal((0, 1), (Count("not-a-subnet", LogLevel.Warning), Count("not-a-subnet", LogLevel.Debug)));
    }

    [Fact]
    public async Task Concurrent_acquisitions_never_share_a_subnet()
    {
        // ConcurrentPool subnets (10.6.1.0 .. 10.6.<pool>.0), ConcurrentAgents nodes acquiring at once, each with its own manager.
        await SetConfigAsync($$$"""{"Network":"10.6.0.0/16","SubnetMax":"10.6.{{{ConcurrentPool}}}.0","Backend":{"Type":"host-gw"}}""");
        var r = await OpenAsync();
        var leases = await Task.WhenAll(Enumerable.Range(0, ConcurrentAgents).Select(i => Task.Run(async () =>
            (await Flannel.Leases.Bench.Agent.AcquireAsync(new LeaseManager(r), new LeaseRequest(Attrs(i)), L.Timeout(120))).Lease)));

        Assert.Equal(ConcurrentAgents, leases.Select(l => l.Subnet).Distinct().Count());
        var stored = (await r.ListAsync(L.Timeout())).Leases;
        Assert.Equal(leases.Select(Describe).Order(), stored.Select(Describe).Order());
    }

    [Fact]
    public async Task Exhaustion_under_contention_gives_out_of_subnets_and_nothing_else()
    {
        await SetConfigAsync("""{"Network":"10.6.0.0/16","SubnetMax":"10.6.15.0","Backend":{"Type":"host-gw"}}""");
        var r = await OpenAsync();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            try
            {
                return (object)(await Flannel.Leases.Bench.Agent.AcquireAsync(new LeaseManager(r), new LeaseRequest(Attrs(i)), L.Timeout(120))).Lease;
            }
            catch (SubnetExhaustedException ex)
            {
                return ex;
            }
        })));

        var won = outcomes.OfType<Lease>().ToList();
        Assert.Equal(15, won.Count);
        Assert.Equal(15, won.Select(l => l.Subnet).Distinct().Count());
        var errors = outcomes.OfType<SubnetExhaustedException>().ToList();
        Assert.Equal(5, errors.Count);
        Assert.All(errors, e => Assert.Contains("out of subnets", e.Message, StringComparison.Ordinal));
    }

    private static LeaseAttributes Attrs(int i) => new() { PublicIP = new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), BackendType = "host-gw" };

    protected static string Describe(Lease l) => $"{l.Subnet}&{l.IPv6Subnet} {l.Attributes.PublicIP} {l.Attributes.BackendType}";

    protected virtual int ConcurrentAgents => 50;

    protected virtual int ConcurrentPool => 60;
}
