using System.Net;
using Flannel.HostGw;
using Flannel.TestKit;
using Flannel.Vxlan;
using Xunit;

namespace Flannel.Backends.Tests;

/// <summary>The vxlan and host-gw instruments follow the kernel state of a simulated host, as iproute2 changes it.</summary>
public sealed class BackendMetricsTests : IDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(10);
    private readonly string _stateDir = Directory.CreateTempSubdirectory("fln-vxlan-state-").FullName;

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    /// <summary>
    /// A three-host vxlan lab whose first host reports to <paramref name="probe"/>. The periodic reconcile is out of
    /// reach: every reconcile the tests see has a known trigger.
    /// </summary>
    private async Task<BackendLab> VxlanLabAsync(MetricsProbe probe)
    {
        var lab = BackendLab.Create(
            """{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}""",
            () => new VxlanBackendFactory(new VxlanBackendOptions { StateDirectory = _stateDir, ReconcileInterval = TimeSpan.FromHours(1) }));
        try
        {
            await lab.StartAsync(lab.Hosts.Hosts[0], meters: probe);
            await lab.StartAllAsync();
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    [PrivilegedFact]
    public async Task A_peer_whose_vtep_mac_moves_is_reprogrammed_from_the_lease_event_without_a_heal()
    {
        // Our own deletions (the peer's old FDB entry) and replacements (its neighbour's MAC) are announced by the
        // kernel watch too: they must not be taken for someone else's and cost a full reconcile.
        using var probe = new MetricsProbe();
        await using var lab = await VxlanLabAsync(probe);
        var h = lab.Hosts.Hosts[0];
        var me = ("instance", h.Name);
        await BackendLab.EventuallyAsync(() => VxlanMultiHostTests.Converged(lab, h), Within, "converged");
        var heals = probe.Sum("flannel.vxlan.reconciles", me, ("trigger", "heal"));

        var peer = lab.AgentOf(lab.Hosts.Hosts[1]).Network.Lease;
        var moved = System.Net.NetworkInformation.PhysicalAddress.Parse("0a-11-22-33-44-55");
        await lab.Registry.UpdateAsync(peer with { Attributes = peer.Attributes with { BackendData = VtepData.Create(1, moved) } }, null, TestContext.Current.CancellationToken);
        var vtep = peer.Subnet!.Value.BaseAddress.ToString();
        await BackendLab.EventuallyAsync(
            () => KernelOracle.Neighbors(h.Namespace, "flannel.1", false).Contains($"{vtep} 0a:11:22:33:44:55") &&
                KernelOracle.Fdb(h.Namespace, "flannel.1").Contains($"0a:11:22:33:44:55 {peer.Attributes.PublicIP}"),
            Within,
            "the moved MAC programmed");
        await Task.Delay(TimeSpan.FromMilliseconds(500), TestContext.Current.CancellationToken); // the watch's 20 ms coalescing, many times over
        Assert.DoesNotContain(KernelOracle.Fdb(h.Namespace, "flannel.1"), e => e.StartsWith(VtepData.FormatMac(VtepData.TryReadMac(peer.Attributes.BackendData, out _)!), StringComparison.Ordinal));
        Assert.Equal(heals, probe.Sum("flannel.vxlan.reconciles", me, ("trigger", "heal")));
        Assert.Equal(0, probe.Sum("flannel.vxlan.heals", me));
    }

    [PrivilegedFact]
    public async Task Vxlan_instruments_count_peers_reconciles_and_what_was_healed_under_us()
    {
        using var probe = new MetricsProbe();
        await using var lab = await VxlanLabAsync(probe);
        var h = lab.Hosts.Hosts[0];
        var me = ("instance", h.Name);
        double? Peers() => probe.Observe("flannel.vxlan.peers", me, ("device", "flannel.1"), ("family", "ipv4"));
        await BackendLab.EventuallyAsync(() => VxlanMultiHostTests.Converged(lab, h) && Peers() == 2, Within, $"two peers programmed and counted ({Peers()})");
        Assert.True(probe.Sum("flannel.vxlan.reconciles", me, ("trigger", "snapshot")) >= 1, probe.Dump());
        Assert.True(probe.Count("flannel.vxlan.reconcile.duration", me, ("trigger", "snapshot")) >= 1, probe.Dump());
        Assert.True(probe.Sum("flannel.vxlan.reconcile.duration", me) > 0, probe.Dump());
        Assert.Equal(0, probe.Sum("flannel.vxlan.heals", me));
        Assert.Equal(0, probe.Sum("flannel.vxlan.request_failures", me));

        // A host joins: the gauge follows the lease event.
        await lab.StartAsync(lab.Hosts.AddHost());
        await BackendLab.EventuallyAsync(() => VxlanMultiHostTests.Converged(lab, h) && Peers() == 3, Within, $"third peer counted ({Peers()})");

        // A route deleted behind our back: the kernel watch heals it and the heal is counted.
        var peer = lab.AgentOf(lab.Hosts.Hosts[1]).Network.Lease.Subnet!.Value;
        h.Namespace.Ip("route", "del", peer.ToString(), "dev", "flannel.1");
        await BackendLab.EventuallyAsync(
            () => VxlanMultiHostTests.Converged(lab, h) && probe.Sum("flannel.vxlan.heals", me, ("what", "peer")) == 1,
            Within,
            $"route restored and counted:\n{probe.Dump()}");
        Assert.True(probe.Sum("flannel.vxlan.reconciles", me, ("trigger", "heal")) >= 1, probe.Dump());

        // A permanent neighbour nobody asked for is removed by the next reconcile, and counted as stale.
        h.Namespace.Ip("neigh", "add", "10.244.250.0", "lladdr", "0a:00:00:00:00:fa", "dev", "flannel.1", "nud", "permanent");
        await ((VxlanNetwork)lab.AgentOf(h).Network).ReconcileAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, probe.Sum("flannel.vxlan.heals", me, ("what", "stale")));
        Assert.Equal(1, probe.Sum("flannel.vxlan.reconciles", me, ("trigger", "manual")));
        Assert.True(VxlanMultiHostTests.Converged(lab, h));

        // The kernel refuses a peer's route while its gateway is one of our own addresses: the refusal is counted;
        // once the address is gone a reconcile programs the peer again.
        var refused = lab.AgentOf(lab.Hosts.Hosts[2]).Network.Lease.Subnet!.Value;
        h.Namespace.Ip("addr", "add", $"{refused.BaseAddress}/32", "dev", "lo");
        h.Namespace.Ip("route", "del", refused.ToString(), "dev", "flannel.1");
        await BackendLab.EventuallyAsync(() => probe.Sum("flannel.vxlan.request_failures", me) >= 1, Within, $"refused route counted:\n{probe.Dump()}");
        h.Namespace.Ip("addr", "del", $"{refused.BaseAddress}/32", "dev", "lo");
        await ((VxlanNetwork)lab.AgentOf(h).Network).ReconcileAsync(TestContext.Current.CancellationToken);
        Assert.True(VxlanMultiHostTests.Converged(lab, h));
        var failures = probe.Sum("flannel.vxlan.request_failures", me);
        Assert.True(probe.Sum("flannel.vxlan.heals", me, ("what", "peer")) >= 3, probe.Dump()); // the hand-deleted route, the refused retry, the manual reconcile

        // The device deleted: recreated, counted, and its peers programmed again.
        h.Namespace.Ip("link", "del", "flannel.1");
        await BackendLab.EventuallyAsync(
            () => KernelOracle.Link(h.Namespace, "flannel.1") is not null && VxlanMultiHostTests.Converged(lab, h) && probe.Sum("flannel.vxlan.heals", me, ("what", "device")) >= 1,
            Within,
            $"device recreated and counted:\n{probe.Dump()}");
        Assert.Equal(3, Peers());
        Assert.Equal(failures, probe.Sum("flannel.vxlan.request_failures", me));

        // After the network is gone its gauge reports nothing.
        await lab.StopAsync(lab.AgentOf(h));
        Assert.Null(Peers());
    }

    [PrivilegedFact]
    public async Task HostGw_instruments_count_routes_heals_and_refused_routes()
    {
        using var probe = new MetricsProbe();
        await using var lab = BackendLab.Create(
            """{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}""",
            () => new HostGwBackendFactory(new HostGwOptions { ReconcileInterval = TimeSpan.FromHours(1) }));
        var h = lab.Hosts.Hosts[0];
        var network = (HostGwNetwork)(await lab.StartAsync(h, meters: probe)).Network;
        await lab.StartAllAsync();
        var me = ("instance", h.Name);
        double? Routes() => probe.Observe("flannel.hostgw.routes", me, ("family", "ipv4"));
        int Kernel() => h.Namespace.IpJson("route", "show", "table", "main", "proto", "70").GetArrayLength();
        await BackendLab.EventuallyAsync(() => Kernel() == 2 && Routes() == 2, Within, $"two routes programmed and counted ({Routes()})");
        Assert.Equal(0, probe.Observe("flannel.hostgw.routes", me, ("family", "ipv6")));
        Assert.True(probe.Sum("flannel.hostgw.reconciles", me, ("trigger", "snapshot")) >= 1, probe.Dump());
        Assert.True(probe.Count("flannel.hostgw.reconcile.duration", me) >= 1, probe.Dump());
        Assert.Equal(0, probe.Sum("flannel.hostgw.heals", me));

        // A route deleted behind our back: restored by the kernel watch, counted.
        var peer = lab.AgentOf(lab.Hosts.Hosts[1]).Network.Lease.Subnet!.Value;
        h.Namespace.Ip("route", "del", peer.ToString());
        await BackendLab.EventuallyAsync(
            () => Kernel() == 2 && probe.Sum("flannel.hostgw.heals", me, ("what", "route")) == 1,
            Within,
            $"route restored and counted:\n{probe.Dump()}");
        Assert.True(probe.Sum("flannel.hostgw.reconciles", me, ("trigger", "heal")) >= 1, probe.Dump());

        // An overlay route of ours that no lease asks for: removed by the next reconcile, counted as stale.
        h.Namespace.Ip("route", "add", "10.244.250.0/24", "via", lab.Hosts.Hosts[1].Address.ToString(), "dev", "eth0", "proto", "70");
        await network.ReconcileAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, probe.Sum("flannel.hostgw.heals", me, ("what", "stale")));
        Assert.Equal(2, Kernel());
        Assert.Equal(0, probe.Sum("flannel.hostgw.request_failures", me));

        // A peer whose gateway is not on our segment: the kernel refuses its route, the failure is counted, and the
        // gauge still counts the route the lease set asks for.
        var stranger = new LeaseManager(lab.Registry, new LeaseManagerOptions { Ttl = TimeSpan.FromMinutes(10) });
        await stranger.AcquireLeaseAsync(
            new LeaseRequest(new LeaseAttributes { PublicIP = IPAddress.Parse("198.51.100.7"), BackendType = "host-gw" }),
            TestContext.Current.CancellationToken);
        await BackendLab.EventuallyAsync(
            () => Routes() == 3 && probe.Sum("flannel.hostgw.request_failures", me) >= 1,
            Within,
            $"refused route counted:\n{probe.Dump()}");
        Assert.Equal(2, Kernel());
    }
}
