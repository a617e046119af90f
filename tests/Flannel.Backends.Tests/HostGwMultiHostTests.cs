using System.Net;
using Flannel.HostGw;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Backends.Tests;

/// <summary>The host-gw backend across simulated hosts on one L2 segment, checked by ping and by <c>ip -j route</c>.</summary>
public sealed class HostGwMultiHostTests
{
    private const string NetConf = """{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}""";

    private static Func<IBackendFactory> Factory(TimeSpan? reconcile = null) =>
        () => new HostGwBackendFactory(new HostGwOptions { ReconcileInterval = reconcile ?? TimeSpan.FromSeconds(10) });

    /// <summary>Our routes (protocol 70) on a host, as "dst via gw dev D" strings.</summary>
    private static SortedSet<string> OurRoutes(SimulatedHost h, bool v6 = false)
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var r in h.Namespace.IpJson([.. v6 ? new[] { "-6" } : [], "route", "show", "table", "main", "proto", "70"]).EnumerateArray())
        {
            set.Add($"{r.GetProperty("dst").GetString()} via {r.GetProperty("gateway").GetString()} dev {r.GetProperty("dev").GetString()}");
        }

        return set;
    }

    private static bool Converged(BackendLab lab, SimulatedHost h, bool v6 = false)
    {
        var want = new SortedSet<string>(
            lab.Agents.Where(a => a.Host != h).Select(a => v6
                ? $"{a.Network.Lease.IPv6Subnet} via {a.Host.IPv6Address} dev eth0"
                : $"{a.Network.Lease.Subnet} via {a.Host.Address} dev eth0"),
            StringComparer.Ordinal);
        Assert.Equal(want, OurRoutes(h, v6));
        return true;
    }

    private static async Task ConvergedEverywhereAsync(BackendLab lab, bool v6 = false)
    {
        foreach (var h in lab.Hosts.Hosts)
        {
            await BackendLab.EventuallyAsync(() => Converged(lab, h) && (!v6 || Converged(lab, h, v6: true)), TimeSpan.FromSeconds(10), $"{h} converged");
        }
    }

    [PrivilegedFact]
    public async Task Three_hosts_reach_each_other_with_one_route_per_peer()
    {
        await using var lab = BackendLab.Create(NetConf, Factory());
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);
        foreach (var a in lab.Agents)
        {
            Assert.Equal("host-gw", a.Network.Lease.Attributes.BackendType);
            Assert.Null(a.Network.Lease.Attributes.BackendData);
            Assert.Equal(1500, a.Network.Mtu);
        }

        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task Peers_converge_when_a_host_joins_and_leaves_and_a_restart_removes_orphans()
    {
        await using var lab = BackendLab.Create(NetConf, Factory());
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);

        await lab.StartAsync(lab.Hosts.AddHost());
        await ConvergedEverywhereAsync(lab);
        lab.AssertFullMesh();

        await lab.StopAsync(lab.Agents[1], release: true, removeHost: true);
        await ConvergedEverywhereAsync(lab);

        // h1 goes down; h3 leaves meanwhile; h1 comes back and drops h3's route.
        var h1 = lab.Hosts.Hosts[0];
        await lab.StopAsync(lab.AgentOf(h1));
        await lab.StopAsync(lab.AgentOf(lab.Hosts.Hosts[2]), release: true, removeHost: true);
        Assert.Equal(2, OurRoutes(h1).Count);
        await lab.StartAsync(h1);
        await ConvergedEverywhereAsync(lab);
        Assert.Single(OurRoutes(h1));
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task A_hand_deleted_route_is_restored_by_the_kernel_watch()
    {
        await using var lab = BackendLab.Create(NetConf, Factory(reconcile: TimeSpan.FromHours(1)));
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);
        var h = lab.Hosts.Hosts[0];
        var peer = lab.AgentOf(lab.Hosts.Hosts[1]).Network.Lease.Subnet!.Value;
        h.Namespace.Ip("route", "del", peer.ToString());
        var t = await BackendLab.EventuallyAsync(() => Converged(lab, h), TimeSpan.FromSeconds(5), "route restored");
        TestContext.Current.TestOutputHelper?.WriteLine($"healed in {t.TotalMilliseconds:F0} ms");

        // A conflicting route (same destination, other gateway) is replaced by the periodic check / next reconcile.
        h.Namespace.Ip("route", "replace", peer.ToString(), "via", "198.18.0.3", "dev", "eth0", "proto", "static");
        await ((HostGwNetwork)lab.AgentOf(h).Network).ReconcileAsync(TestContext.Current.CancellationToken);
        Assert.True(Converged(lab, h));
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task Dual_stack_pods_reach_each_other()
    {
        const string conf = """{"EnableIPv6":true,"Network":"10.244.0.0/16","IPv6Network":"fd10:244::/56","Backend":{"Type":"host-gw"}}""";
        await using var lab = BackendLab.Create(conf, Factory(), new SimulatedHostsOptions { HostsPerSubnet = [3], IPv6 = true });
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab, v6: true);
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task A_natted_public_ip_is_refused()
    {
        await using var lab = BackendLab.Create(NetConf, Factory(), new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(() => lab.StartAsync(lab.Hosts.Hosts[0], publicIP: IPAddress.Parse("203.0.113.9")));
        Assert.Contains("meaning that probably you're on a NAT, which is not supported by host-gw backend", ex.Message, StringComparison.Ordinal);
    }
}
