using System.Net;
using Flannel.HostGw;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Flannel.Backends.Tests;

/// <summary>host-gw against Core's in-memory route table and lease store (no kernel).</summary>
public sealed class HostGwTests : IAsyncDisposable
{
    private static readonly NetworkConfig Config = NetworkConfig.Parse("""{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd10:244::/56","Backend":{"Type":"host-gw"}}""");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-26T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly InMemoryLeaseRegistry _registry;
    private readonly LeaseManager _manager;
    private readonly InMemoryRouteTable _table = new();
    private readonly CancellationTokenSource _stop = new();

    public HostGwTests()
    {
        _registry = new InMemoryLeaseRegistry(Config, _time);
        _manager = new LeaseManager(_registry, new LeaseManagerOptions { TimeProvider = _time });
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _registry.Dispose();
    }

    private static ExternalInterface Eth0(string ip, string ip6, string? publicIP = null) => new()
    {
        Name = "eth0",
        Index = 2,
        Mtu = 1500,
        Address = IPAddress.Parse(ip),
        IPv6Address = IPAddress.Parse(ip6),
        PublicIP = IPAddress.Parse(publicIP ?? ip),
        PublicIPv6 = IPAddress.Parse(ip6),
    };

    private BackendContext Context(ExternalInterface iface) => new() { SubnetManager = _manager, Interface = iface, TimeProvider = _time };

    private HostGwBackendFactory Factory() => new(new HostGwOptions(), (_, _) => _table);

    private Task<Lease> PeerAsync(string ip, string ip6, string type = "host-gw") => _manager.AcquireLeaseAsync(
        new LeaseRequest(new LeaseAttributes { PublicIP = IPAddress.Parse(ip), PublicIPv6 = IPAddress.Parse(ip6), BackendType = type }),
        CancellationToken.None).AsTask();

    private async Task<SortedSet<string>> RoutesAsync() =>
        new(((await _table.ListAsync(CancellationToken.None)).Select(r => $"{r.Destination} via {r.Gateway} dev {r.Device}")), StringComparer.Ordinal);

    private async Task EventuallyAsync(Func<SortedSet<string>, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition(await RoutesAsync()))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: routes are [{string.Join(", ", await RoutesAsync())}]");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task The_acquired_lease_is_logged_without_a_null_for_a_missing_family()
    {
        var v4 = NetworkConfig.Parse("""{"Network":"10.245.0.0/16","Backend":{"Type":"host-gw"}}""");
        using var registry = new InMemoryLeaseRegistry(v4, _time);
        using var logs = new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider();
        using var factory = new Microsoft.Extensions.Logging.LoggerFactory([logs]);
        var context = new BackendContext
        {
            SubnetManager = new LeaseManager(registry, new LeaseManagerOptions { TimeProvider = _time }),
            Interface = Eth0("198.18.0.1", "fd00::1"),
            TimeProvider = _time,
            LoggerFactory = factory,
        };
        var network = await Factory().Create(context).RegisterNetworkAsync(v4, CancellationToken.None);
        var line = Assert.Single(logs.Collector.GetSnapshot(), r => r.Id.Id == 3500).Message;
        Assert.Equal($"host-gw network {context.InstanceName}: lease {network.Lease.Subnet} acquired, public IP 198.18.0.1 on eth0", line);
    }

    [Fact]
    public async Task Routes_follow_peer_leases_in_both_families_and_ignore_foreign_backends()
    {
        var p2 = await PeerAsync("198.18.0.2", "fd00::2");
        var foreign = await PeerAsync("198.18.0.9", "fd00::9", type: "vxlan");
        var network = await Factory().Create(Context(Eth0("198.18.0.1", "fd00::1"))).RegisterNetworkAsync(Config, CancellationToken.None);
        Assert.Equal("host-gw", network.Lease.Attributes.BackendType);
        Assert.Null(network.Lease.Attributes.BackendData);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), network.Lease.Attributes.PublicIP);
        Assert.Equal(IPAddress.Parse("fd00::1"), network.Lease.Attributes.PublicIPv6);
        Assert.Equal(1500, network.Mtu);
        var run = network.RunAsync(_stop.Token);

        await EventuallyAsync(r => r.SetEquals([$"{p2.Subnet} via 198.18.0.2 dev eth0", $"{p2.IPv6Subnet} via fd00::2 dev eth0"]), "p2 routed, foreign lease ignored");
        Assert.DoesNotContain(await RoutesAsync(), r => r.Contains(foreign.Subnet.ToString()!, StringComparison.Ordinal));

        var p3 = await PeerAsync("198.18.0.3", "fd00::3");
        await EventuallyAsync(r => r.Count == 4 && r.Contains($"{p3.Subnet} via 198.18.0.3 dev eth0"), "p3 joined");

        await _manager.ReleaseLeaseAsync(p2, CancellationToken.None);
        await EventuallyAsync(r => r.SetEquals([$"{p3.Subnet} via 198.18.0.3 dev eth0", $"{p3.IPv6Subnet} via fd00::3 dev eth0"]), "p2 left");

        await _stop.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(2, (await RoutesAsync()).Count); // stopping leaves the data path
        await network.TeardownAsync(CancellationToken.None);
        Assert.Empty(await RoutesAsync());
    }

    [Fact]
    public async Task Start_removes_orphans_in_the_overlay_and_replaces_conflicting_routes_but_leaves_other_routes()
    {
        var p2 = await PeerAsync("198.18.0.2", "fd00::2");
        await _table.ReplaceAsync(new OverlayRoute(IPNetwork.Parse("10.244.77.0/24")) { Gateway = IPAddress.Parse("198.18.0.77"), Device = "eth0" }, CancellationToken.None);
        await _table.ReplaceAsync(new OverlayRoute(p2.Subnet!.Value) { Gateway = IPAddress.Parse("198.18.0.99"), Device = "eth0" }, CancellationToken.None);
        await _table.ReplaceAsync(new OverlayRoute(IPNetwork.Parse("192.168.5.0/24")) { Gateway = IPAddress.Parse("198.18.0.5"), Device = "eth0" }, CancellationToken.None);
        var network = await Factory().Create(Context(Eth0("198.18.0.1", "fd00::1"))).RegisterNetworkAsync(Config, CancellationToken.None);
        _ = network.RunAsync(_stop.Token);
        await EventuallyAsync(
            r => r.SetEquals([$"{p2.Subnet} via 198.18.0.2 dev eth0", $"{p2.IPv6Subnet} via fd00::2 dev eth0", "192.168.5.0/24 via 198.18.0.5 dev eth0"]),
            "orphan gone, conflict replaced, foreign route kept");
    }

    [Fact]
    public async Task The_periodic_check_restores_a_deleted_route()
    {
        var p2 = await PeerAsync("198.18.0.2", "fd00::2");
        var network = await Factory().Create(Context(Eth0("198.18.0.1", "fd00::1"))).RegisterNetworkAsync(Config, CancellationToken.None);
        _ = network.RunAsync(_stop.Token);
        await EventuallyAsync(r => r.Count == 2, "initial routes");
        await _table.DeleteAsync(new OverlayRoute(p2.Subnet!.Value), CancellationToken.None);
        Assert.Single(await RoutesAsync());
        _time.Advance(TimeSpan.FromSeconds(10));
        await EventuallyAsync(r => r.Count == 2, "route restored by the 10 s check");
    }

    [Fact]
    public void A_natted_public_ip_is_refused_with_flannels_explanation()
    {
        var ex = Assert.Throws<FlannelConfigurationException>(() => Factory().Create(Context(Eth0("198.18.0.1", "fd00::1", publicIP: "203.0.113.7"))));
        Assert.Contains("your PublicIP differs from interface IP", ex.Message, StringComparison.Ordinal);
        Assert.Contains("NAT, which is not supported by host-gw backend", ex.Message, StringComparison.Ordinal);
        Assert.Contains("203.0.113.7", ex.Message, StringComparison.Ordinal);
        Assert.Contains("198.18.0.1", ex.Message, StringComparison.Ordinal);
        Assert.Equal("--public-ip", ex.Field); // the flag, spelled as the interface errors spell theirs
    }
}
