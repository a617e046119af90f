using System.Net;
using System.Text;
using Flannel.Etcd;
using Flannel.TestKit;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Flannel.Leases.Tests;

/// <summary>One etcd per test class; each test uses its own key prefix.</summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    public EtcdServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await EtcdServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}

public sealed class EtcdRegistryTests(EtcdFixture etcd) : RegistryContractTests, IClassFixture<EtcdFixture>
{
    private readonly string _prefix = "/fln-" + Guid.NewGuid().ToString("N")[..8] + "/coreos.com/network";
    private readonly List<EtcdLeaseRegistry> _opened = [];

    protected override TimeSpan ShortTtl => TimeSpan.FromSeconds(1);

    protected override int ConcurrentAgents => 200;

    protected override int ConcurrentPool => 220;

    private EtcdServer Server => etcd.Server;

    protected override Task<ILeaseRegistry> OpenAsync() => Task.FromResult<ILeaseRegistry>(Open());

    private EtcdLeaseRegistry Open(string? prefix = null)
    {
        var r = new EtcdLeaseRegistry(
            new EtcdLeaseRegistryOptions { Endpoints = [Server.Endpoint], Prefix = prefix ?? _prefix },
            new FakeLogger<EtcdLeaseRegistry>(Logger.Collector));
        _opened.Add(r);
        return r;
    }

    protected override async Task PutRawAsync(string keySuffix, string value) =>
        await Server.PutRawAsync(_prefix + "/subnets/" + keySuffix, Encoding.UTF8.GetBytes(value));

    protected override async Task SetConfigAsync(string json) => await Server.PutRawAsync(_prefix + "/config", Encoding.UTF8.GetBytes(json));

    public override async ValueTask DisposeAsync()
    {
        foreach (var r in _opened)
        {
            r.Dispose();
        }

        await base.DisposeAsync();
    }

    // ---- flannel interop ----

    public static TheoryData<string, string> GoValues => new()
    {
        { "10.5.52.0-24", """{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}""" },
        { "10.5.53.0-24", """{"PublicIP":"10.0.0.7","PublicIPv6":null,"BackendType":"host-gw"}""" },
        { "10.5.54.0-24", """{"PublicIP":"10.0.0.8","PublicIPv6":null}""" },
        { "10.5.55.0-24&fc00:0:0:34::-64", """{"PublicIP":"10.0.0.9","PublicIPv6":"fc00::9","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:45"},"BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:46"}}""" },
    };

    [Theory]
    [MemberData(nameof(GoValues))]
    public async Task Lease_written_by_go_flanneld_is_read_watched_and_written_back_byte_for_byte(string keySuffix, string goValue)
    {
        var r = Open();
        var start = await r.ListAsync(L.Timeout());
        await using var w = new WatchRecorder(r, start);

        // Exactly what flanneld does: grant a 24 h etcd lease, put the key with it.
        var key = _prefix + "/subnets/" + keySuffix;
        var grant = await Server.GrantAsync(86400);
        await Server.PutRawAsync(key, Encoding.UTF8.GetBytes(goValue), grant);

        var listed = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Equal(key, r.LeaseKey(listed.Subnet!.Value, listed.IPv6Subnet));
        Assert.InRange(listed.Expiration!.Value, DateTimeOffset.UtcNow.AddHours(23.9), DateTimeOffset.UtcNow.AddHours(24.1));

        await w.WaitUntil(x => x.Events.Any(), "the Added event");
        var added = Assert.Single(w.Events);
        Assert.Equal(LeaseEventKind.Added, added.Kind);
        Assert.Equal(listed.Subnet, added.Lease.Subnet);
        Assert.Equal(listed.IPv6Subnet, added.Lease.IPv6Subnet);
        Assert.Equal(listed.Attributes.PublicIP, added.Lease.Attributes.PublicIP);
        Assert.Equal(listed.Attributes.BackendType, added.Lease.Attributes.BackendType);
        Assert.InRange(added.Lease.Expiration!.Value, DateTimeOffset.UtcNow.AddHours(23.9), DateTimeOffset.UtcNow.AddHours(24.1));

        // Renewing what we read writes the same bytes back, under a fresh lease.
        await r.UpdateAsync(listed, TimeSpan.FromHours(24), L.Timeout());
        var raw = await Server.GetRawAsync(key);
        Assert.NotNull(raw);
        Assert.Equal(goValue, Encoding.UTF8.GetString(raw.Value.Value));
        Assert.NotEqual(0, raw.Value.LeaseId);
        Assert.NotEqual(grant, raw.Value.LeaseId);
    }

    [Fact]
    public async Task What_we_write_is_flannels_schema_and_bytes()
    {
        var r = Open();
        var data = System.Text.Json.JsonDocument.Parse("""{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}""").RootElement.Clone();
        var lease = new Lease
        {
            Subnet = L.Net("10.5.52.0/24"),
            Attributes = new LeaseAttributes { PublicIP = IPAddress.Parse("192.168.64.3"), BackendType = "vxlan", BackendData = data },
        };
        await r.CreateAsync(lease, TimeSpan.FromHours(24), L.Timeout());
        await r.CreateAsync(L.Make("10.5.53.0/24", "10.0.0.8", "fc00:0:0:34::/64", backendType: null), TimeSpan.FromHours(24), L.Timeout());

        var keys = await Server.KeysAsync(_prefix + "/");
        Assert.Equal([_prefix + "/subnets/10.5.52.0-24", _prefix + "/subnets/10.5.53.0-24&fc00:0:0:34::-64"], keys.Order(StringComparer.Ordinal).ToList());
        var raw = await Server.GetRawAsync(_prefix + "/subnets/10.5.52.0-24");
        Assert.Equal("""{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}""", Encoding.UTF8.GetString(raw!.Value.Value));
        raw = await Server.GetRawAsync(_prefix + "/subnets/10.5.53.0-24&fc00:0:0:34::-64");
        Assert.Equal("""{"PublicIP":"10.0.0.8","PublicIPv6":null}""", Encoding.UTF8.GetString(raw!.Value.Value));
        Assert.NotEqual(0, raw.Value.LeaseId);
    }

    [Fact]
    public async Task Default_prefix_is_flannels_and_a_trailing_slash_is_dropped()
    {
        Assert.Equal("/coreos.com/network", new EtcdLeaseRegistryOptions().Prefix);
        using var r = new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = [Server.Endpoint], Prefix = _prefix + "/" });
        Assert.Equal(_prefix + "/config", r.ConfigKey);
        Assert.Equal(_prefix + "/subnets/10.5.52.0-24", r.LeaseKey(L.Net("10.5.52.0/24")));
        await r.SetNetworkConfigAsync("""{"Network":"10.5.0.0/16"}""", L.Timeout());
        Assert.Equal("""{"Network":"10.5.0.0/16"}""", Encoding.UTF8.GetString((await Server.GetRawAsync(_prefix + "/config"))!.Value.Value));
    }

    // ---- flannel bugs fixed ----

    [Fact]
    public async Task Reservation_without_an_etcd_lease_stays_ttl_less()
    {
        var r = Open();
        var key = _prefix + "/subnets/10.5.60.0-24";
        await Server.PutRawAsync(key, Encoding.UTF8.GetBytes("""{"PublicIP":"10.0.0.60","PublicIPv6":null}"""));
        var lease = Assert.Single((await r.ListAsync(L.Timeout())).Leases);
        Assert.Null(lease.Expiration);
        Assert.True(lease.IsReservation);

        var updated = await r.UpdateAsync(lease with { Attributes = lease.Attributes with { BackendType = "vxlan" } }, ttl: null, L.Timeout());
        Assert.Null(updated.Expiration);
        var raw = await Server.GetRawAsync(key);
        Assert.Equal(0, raw!.Value.LeaseId);
        Assert.Null(Assert.Single((await r.ListAsync(L.Timeout())).Leases).Expiration);
    }

    [Fact]
    public async Task Renewals_do_not_leak_etcd_leases()
    {
        var r = Open();
        var before = (await Server.LeasesAsync()).ToHashSet();
        var lease = await r.CreateAsync(L.Make("10.5.61.0/24", "10.0.0.61"), TimeSpan.FromHours(24), L.Timeout());
        for (var i = 0; i < 5; i++)
        {
            lease = await r.UpdateAsync(lease!, TimeSpan.FromHours(24), L.Timeout());
        }

        var mine = (await Server.LeasesAsync()).Where(id => !before.Contains(id)).ToList();
        var raw = await Server.GetRawAsync(_prefix + "/subnets/10.5.61.0-24");
        Assert.Equal([raw!.Value.LeaseId], mine);

        Assert.True(await r.DeleteAsync(L.Net("10.5.61.0/24"), null, L.Timeout()));
        Assert.All(await Server.LeasesAsync(), id => Assert.Contains(id, before));
    }

    [Fact]
    public async Task Lost_create_race_returns_null_and_leaves_no_orphan_lease()
    {
        var r = Open();
        await Server.PutRawAsync(_prefix + "/subnets/10.5.62.0-24", Encoding.UTF8.GetBytes("""{"PublicIP":"10.0.0.62","PublicIPv6":null}"""));
        var before = (await Server.LeasesAsync()).ToHashSet();
        Assert.Null(await r.CreateAsync(L.Make("10.5.62.0/24", "10.0.0.99"), TimeSpan.FromHours(24), L.Timeout()));
        Assert.All(await Server.LeasesAsync(), id => Assert.Contains(id, before));
        var raw = await Server.GetRawAsync(_prefix + "/subnets/10.5.62.0-24");
        Assert.Contains("10.0.0.62", Encoding.UTF8.GetString(raw!.Value.Value), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removal_events_carry_the_last_attributes()
    {
        var r = Open();
        var start = await r.ListAsync(L.Timeout());
        await using var w = new WatchRecorder(r, start);
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.77"), TimeSpan.FromHours(1), L.Timeout());
        await r.DeleteAsync(L.Net("10.5.1.0/24"), null, L.Timeout());
        await w.WaitUntil(x => x.Events.Any(e => e.Kind == LeaseEventKind.Removed), "the removal");
        Assert.Equal(IPAddress.Parse("198.18.0.77"), w.Events.Single(e => e.Kind == LeaseEventKind.Removed).Lease.Attributes.PublicIP);
    }

    [Fact]
    public async Task Watch_from_a_compacted_revision_gets_a_snapshot_then_resumes()
    {
        var r = Open();
        var start = await r.ListAsync(L.Timeout());
        await r.CreateAsync(L.Make("10.5.1.0/24", "198.18.0.1"), TimeSpan.FromHours(1), L.Timeout());
        await r.CreateAsync(L.Make("10.5.2.0/24", "198.18.0.2"), TimeSpan.FromHours(1), L.Timeout());
        await r.DeleteAsync(L.Net("10.5.1.0/24"), null, L.Timeout());
        await Server.CompactAsync();

        await using var w = new WatchRecorder(r, start);
        await w.WaitUntil(x => x.All.Any(), "the first result");
        Assert.True(w.All[0].IsSnapshot);
        Assert.Equal(["10.5.2.0/24"], w.All[0].Snapshot!.Select(l => $"{l.Subnet}").ToList());
        Assert.Contains(Logger.Collector.GetSnapshot(), e => e.Id.Id == 5002);

        await r.CreateAsync(L.Make("10.5.3.0/24", "198.18.0.3"), TimeSpan.FromHours(1), L.Timeout());
        await w.WaitUntil(x => x.State.Count == 2, "the event after the snapshot");
        Assert.False(w.All[^1].IsSnapshot);
        Assert.Equal(L.Net("10.5.3.0/24"), Assert.Single(w.All[^1].Events).Lease.Subnet);
    }

    [Fact]
    public void Bad_endpoints_and_half_tls_configs_are_rejected_with_the_field_named()
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = ["127.0.0.1:2379"] }));
        Assert.Equal("Endpoints", ex.Field);
        ex = Assert.Throws<FlannelConfigurationException>(() => new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Endpoints = ["https://127.0.0.1:2379"], CertFile = "/nonexistent.pem" }));
        Assert.Equal("KeyFile", ex.Field);
        ex = Assert.Throws<FlannelConfigurationException>(() => new EtcdLeaseRegistry(new EtcdLeaseRegistryOptions { Prefix = "coreos.com" }));
        Assert.Equal("Prefix", ex.Field);
    }

    [Fact]
    public async Task Injected_client_is_used()
    {
        using var client = new dotnet_etcd.EtcdClient(Server.Endpoint);
        using var r = EtcdLeaseRegistry.ForClient(client, new EtcdLeaseRegistryOptions { Prefix = _prefix });
        Assert.NotNull(await r.CreateAsync(L.Make("10.5.70.0/24", "10.0.0.70"), TimeSpan.FromHours(1), L.Timeout()));
        Assert.NotNull(await Server.GetRawAsync(_prefix + "/subnets/10.5.70.0-24"));
    }
}
