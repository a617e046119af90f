using System.Net;
using System.Net.Sockets;
using Flannel.TestKit;
using Flannel.Vxlan;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Flannel.Backends.Tests;

/// <summary>The vxlan backend across simulated hosts, checked by ping and by iproute2 as the oracle.</summary>
public sealed class VxlanMultiHostTests : IDisposable
{
    private const string NetConf = """{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}""";
    private readonly string _stateDir = Directory.CreateTempSubdirectory("fln-vxlan-state-").FullName;

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    private Func<IBackendFactory> Factory(TimeSpan? reconcile = null) =>
        () => new VxlanBackendFactory(new VxlanBackendOptions { StateDirectory = _stateDir, ReconcileInterval = reconcile ?? TimeSpan.FromSeconds(30) });

    internal static (SortedSet<string> Routes, SortedSet<string> Neighbors, SortedSet<string> Fdb) Expected(BackendLab lab, SimulatedHost self, bool v6 = false)
    {
        var routes = new SortedSet<string>(StringComparer.Ordinal);
        var neighbors = new SortedSet<string>(StringComparer.Ordinal);
        var fdb = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var a in lab.Agents.Where(a => a.Host != self))
        {
            var lease = a.Network.Lease;
            var subnet = (v6 ? lease.IPv6Subnet : lease.Subnet)!.Value;
            var mac = VtepData.FormatMac(VtepData.TryReadMac(v6 ? lease.Attributes.BackendV6Data : lease.Attributes.BackendData, out _)!);
            routes.Add($"{subnet} via {subnet.BaseAddress} onlink");
            neighbors.Add($"{subnet.BaseAddress} {mac}");
            fdb.Add($"{mac} {(v6 ? lease.Attributes.PublicIPv6 : lease.Attributes.PublicIP)}");
        }

        return (routes, neighbors, fdb);
    }

    internal static bool Converged(BackendLab lab, SimulatedHost h, bool v6 = false)
    {
        var dev = v6 ? "flannel-v6.1" : "flannel.1";
        var (routes, neighbors, fdb) = Expected(lab, h, v6);
        Assert.Equal(routes, KernelOracle.Routes(h.Namespace, v6, dev, dst => !dst.StartsWith("fe80:", StringComparison.Ordinal)));
        Assert.Equal(neighbors, KernelOracle.Neighbors(h.Namespace, dev, v6));
        Assert.Equal(fdb, KernelOracle.Fdb(h.Namespace, dev));
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
    public async Task Three_hosts_reach_each_other_with_exactly_one_route_neighbour_and_fdb_entry_per_peer()
    {
        await using var lab = BackendLab.Create(NetConf, Factory());
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);

        foreach (var a in lab.Agents)
        {
            var link = KernelOracle.Link(a.Host.Namespace, "flannel.1")!.Value;
            var data = link.GetProperty("linkinfo").GetProperty("info_data");
            Assert.Equal("vxlan", link.GetProperty("linkinfo").GetProperty("info_kind").GetString());
            Assert.Equal(1, data.GetProperty("id").GetInt32());
            Assert.Equal(a.Host.Address.ToString(), data.GetProperty("local").GetString());
            Assert.Equal("eth0", data.GetProperty("link").GetString());
            Assert.Equal(8472, data.GetProperty("port").GetInt32());
            Assert.False(data.GetProperty("learning").GetBoolean());
            Assert.Equal(1450, link.GetProperty("mtu").GetInt32());
            Assert.Equal(1450, a.Network.Mtu);
            Assert.Contains("UP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
            Assert.Equal(
                VtepData.FormatMac(VtepData.TryReadMac(a.Network.Lease.Attributes.BackendData, out _)!),
                link.GetProperty("address").GetString());
            Assert.Equal("vxlan", a.Network.Lease.Attributes.BackendType);
            Assert.Equal([$"{a.Network.Lease.Subnet!.Value.BaseAddress}/32"], KernelOracle.Addresses(a.Host.Namespace, "flannel.1"));
        }

        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task Peers_converge_when_a_host_joins_and_when_one_leaves()
    {
        await using var lab = BackendLab.Create(NetConf, Factory());
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);

        var joined = lab.Hosts.AddHost();
        await lab.StartAsync(joined);
        await ConvergedEverywhereAsync(lab);
        lab.AssertFullMesh();

        var leaving = lab.Agents[1];
        await lab.StopAsync(leaving, release: true, removeHost: true);
        await ConvergedEverywhereAsync(lab);
        Assert.Equal(2, KernelOracle.Routes(lab.Hosts.Hosts[0].Namespace, dev: "flannel.1").Count);
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task A_host_that_vanishes_without_releasing_is_dropped_when_its_lease_expires()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var lab = BackendLab.Create(NetConf, Factory(), leaseTime: time);
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);

        await lab.StopAsync(lab.Agents[2], release: false, removeHost: true);
        time.Advance(TimeSpan.FromMinutes(6));
        foreach (var a in lab.Agents)
        {
            await a.Manager.RenewLeaseAsync(a.Network.Lease, TestContext.Current.CancellationToken);
        }

        Assert.Equal(2, KernelOracle.Routes(lab.Hosts.Hosts[0].Namespace, dev: "flannel.1").Count);
        time.Advance(TimeSpan.FromMinutes(5)); // the vanished host's 10-minute TTL runs out; the others were renewed
        await ConvergedEverywhereAsync(lab);
        Assert.Single(KernelOracle.Routes(lab.Hosts.Hosts[0].Namespace, dev: "flannel.1"));
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task A_restarted_agent_removes_entries_of_peers_that_left_while_it_was_down_and_keeps_its_mac()
    {
        await using var lab = BackendLab.Create(NetConf, Factory());
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);
        var h1 = lab.Hosts.Hosts[0];
        var macBefore = lab.AgentOf(h1).Network.Lease.Attributes.BackendData!.Value.GetRawText();

        await lab.StopAsync(lab.AgentOf(h1));
        await lab.StopAsync(lab.Agents.Single(a => a.Host == lab.Hosts.Hosts[2]), release: true, removeHost: true);
        Assert.Equal(2, KernelOracle.Routes(h1.Namespace, dev: "flannel.1").Count); // the data path stayed, stale entry included

        var restarted = await lab.StartAsync(h1);
        await ConvergedEverywhereAsync(lab);
        Assert.Single(KernelOracle.Routes(h1.Namespace, dev: "flannel.1"));
        Assert.Single(KernelOracle.Fdb(h1.Namespace, "flannel.1"));
        Assert.Single(KernelOracle.Neighbors(h1.Namespace, "flannel.1"));
        Assert.Equal(macBefore, restarted.Network.Lease.Attributes.BackendData!.Value.GetRawText());
        lab.AssertFullMesh();
    }

    /// <summary>Starts every agent, waits for the full mesh, and returns the first host with its neighbour's lease, subnet and VTEP MAC.</summary>
    private static async Task<(SimulatedHost Host, Lease Peer, IPNetwork Subnet, string Mac)> ConvergedWithPeerAsync(BackendLab lab)
    {
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);
        var peer = lab.AgentOf(lab.Hosts.Hosts[1]).Network.Lease;
        return (lab.Hosts.Hosts[0], peer, peer.Subnet!.Value, VtepData.FormatMac(VtepData.TryReadMac(peer.Attributes.BackendData, out _)!));
    }

    [PrivilegedFact]
    public async Task Hand_deleted_route_neighbour_and_fdb_entries_and_a_deleted_device_are_restored_by_the_kernel_watch()
    {
        // The periodic reconcile is pushed out of reach: only the netlink monitor can heal within the bound.
        await using var lab = BackendLab.Create(NetConf, Factory(reconcile: TimeSpan.FromHours(1)));
        var (h, peer, subnet, mac) = await ConvergedWithPeerAsync(lab);

        h.Namespace.Ip("route", "del", subnet.ToString(), "dev", "flannel.1");
        var t1 = await BackendLab.EventuallyAsync(() => Converged(lab, h), TimeSpan.FromSeconds(5), "route restored");

        h.Namespace.Ip("neigh", "del", subnet.BaseAddress.ToString(), "dev", "flannel.1");
        var t2 = await BackendLab.EventuallyAsync(() => Converged(lab, h), TimeSpan.FromSeconds(5), "neighbour restored");

        Shell.Check("bridge", "-n", h.Namespace.Name, "fdb", "del", mac, "dev", "flannel.1", "dst", peer.Attributes.PublicIP!.ToString(), "self");
        var t3 = await BackendLab.EventuallyAsync(() => Converged(lab, h), TimeSpan.FromSeconds(5), "fdb entry restored");

        var indexBefore = KernelOracle.Link(h.Namespace, "flannel.1")!.Value.GetProperty("ifindex").GetInt32();
        h.Namespace.Ip("link", "del", "flannel.1");
        var t4 = await BackendLab.EventuallyAsync(() => KernelOracle.Link(h.Namespace, "flannel.1") is not null && Converged(lab, h), TimeSpan.FromSeconds(5), "device recreated and peers re-programmed");
        Assert.Equal([$"{lab.AgentOf(h).Network.Lease.Subnet!.Value.BaseAddress}/32"], KernelOracle.Addresses(h.Namespace, "flannel.1"));
        Assert.NotEqual(indexBefore, KernelOracle.Link(h.Namespace, "flannel.1")!.Value.GetProperty("ifindex").GetInt32());
        TestContext.Current.TestOutputHelper?.WriteLine($"healed: route {t1.TotalMilliseconds:F0} ms, neighbour {t2.TotalMilliseconds:F0} ms, fdb {t3.TotalMilliseconds:F0} ms, device {t4.TotalMilliseconds:F0} ms");
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task Overwritten_route_neighbour_and_fdb_entries_and_a_downed_device_are_restored_by_the_kernel_watch()
    {
        // Overwriting sends RTM_NEWROUTE/RTM_NEWNEIGH, not a deletion: the watch must compare them with what it programmed.
        await using var lab = BackendLab.Create(NetConf, Factory(reconcile: TimeSpan.FromHours(1)));
        var (h, peer, subnet, mac) = await ConvergedWithPeerAsync(lab);

        h.Namespace.Ip("route", "replace", subnet.ToString(), "via", "198.18.0.250", "dev", "eth0");
        await BackendLab.EventuallyAsync(() => Converged(lab, h), TimeSpan.FromSeconds(5), "route restored");

        h.Namespace.Ip("neigh", "replace", subnet.BaseAddress.ToString(), "lladdr", "0a:00:00:00:00:99", "dev", "flannel.1", "nud", "permanent");
        await BackendLab.EventuallyAsync(() => Converged(lab, h), TimeSpan.FromSeconds(5), "neighbour restored");

        Shell.Check("bridge", "-n", h.Namespace.Name, "fdb", "replace", mac, "dev", "flannel.1", "dst", "198.18.0.250", "self", "permanent");
        await BackendLab.EventuallyAsync(() => Converged(lab, h), TimeSpan.FromSeconds(5), "fdb entry restored");

        // IPv4 drops the routes of a downed device without a notification per route: the link event must do.
        h.Namespace.Ip("link", "set", "flannel.1", "down");
        await BackendLab.EventuallyAsync(
            () => KernelOracle.Link(h.Namespace, "flannel.1")!.Value.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "UP") && Converged(lab, h),
            TimeSpan.FromSeconds(5),
            "device up again with its routes");
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task A_rewritten_device_mac_is_set_back()
    {
        await using var lab = BackendLab.Create(NetConf, Factory(reconcile: TimeSpan.FromHours(1)));
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);
        var a = lab.Agents[0];
        var published = VtepData.FormatMac(VtepData.TryReadMac(a.Network.Lease.Attributes.BackendData, out _)!);
        a.Host.Namespace.Ip("link", "set", "flannel.1", "address", "0a:11:22:33:44:55");
        await BackendLab.EventuallyAsync(
            () => KernelOracle.Link(a.Host.Namespace, "flannel.1")!.Value.GetProperty("address").GetString() == published,
            TimeSpan.FromSeconds(5),
            "MAC set back");
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task Direct_routing_routes_same_segment_peers_directly_and_the_others_over_vxlan()
    {
        const string conf = """{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}""";
        await using var lab = BackendLab.Create(conf, Factory(), new SimulatedHostsOptions { HostsPerSubnet = [2, 1] });
        await lab.StartAllAsync();
        var (a, b, c) = (lab.Hosts.Hosts[0], lab.Hosts.Hosts[1], lab.Hosts.Hosts[2]);
        Lease L(SimulatedHost h) => lab.AgentOf(h).Network.Lease;
        string Direct(SimulatedHost to) => $"{L(to).Subnet} via {to.Address} dev eth0";
        string Encap(SimulatedHost to) => $"{L(to).Subnet} via {L(to).Subnet!.Value.BaseAddress} onlink dev flannel.1";
        bool InOverlay(string dst) => dst.StartsWith("10.244.", StringComparison.Ordinal) && !dst.EndsWith("/32", StringComparison.Ordinal);

        await BackendLab.EventuallyAsync(
            () =>
            {
                Assert.Equal(new SortedSet<string>([Direct(b), Encap(c), $"{L(a).Subnet} via  dev pod0"], StringComparer.Ordinal), KernelOracle.Routes(a.Namespace, dstFilter: InOverlay));
                Assert.Equal(new SortedSet<string>([Encap(a), Encap(b), $"{L(c).Subnet} via  dev pod0"], StringComparer.Ordinal), KernelOracle.Routes(c.Namespace, dstFilter: InOverlay));
                Assert.Single(KernelOracle.Fdb(a.Namespace, "flannel.1"));
                Assert.Equal(2, KernelOracle.Fdb(c.Namespace, "flannel.1").Count);
                return true;
            },
            TimeSpan.FromSeconds(10),
            "direct and encapsulated routes");
        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task Dual_stack_pods_reach_each_other_over_both_devices_with_per_family_mtu()
    {
        const string conf = """{"EnableIPv6":true,"Network":"10.244.0.0/16","IPv6Network":"fd10:244::/56","Backend":{"Type":"vxlan"}}""";
        await using var lab = BackendLab.Create(conf, Factory(), new SimulatedHostsOptions { HostsPerSubnet = [3], IPv6 = true });
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab, v6: true);
        foreach (var a in lab.Agents)
        {
            Assert.Equal(1430, KernelOracle.Link(a.Host.Namespace, "flannel-v6.1")!.Value.GetProperty("mtu").GetInt32());
            Assert.Equal(1450, KernelOracle.Link(a.Host.Namespace, "flannel.1")!.Value.GetProperty("mtu").GetInt32());
            Assert.Equal(1430, a.Network.Mtu);
            Assert.Equal("0", SimulatedHosts.ReadSysctl(a.Host.Namespace, "net/ipv6/conf/flannel-v6.1/accept_ra"));
            Assert.Equal([$"{a.Network.Lease.IPv6Subnet!.Value.BaseAddress}/128"], KernelOracle.Addresses(a.Host.Namespace, "flannel-v6.1", ipv6: true));
        }

        lab.AssertFullMesh();
    }

    [PrivilegedFact]
    public async Task Teardown_removes_the_devices_and_stop_leaves_the_data_path()
    {
        await using var lab = BackendLab.Create(NetConf, Factory());
        await lab.StartAllAsync();
        await ConvergedEverywhereAsync(lab);
        var a = lab.Agents[0];
        await a.StopAsync(dispose: false);
        Assert.True(lab.Hosts.Hosts[1].Pod!.Ping(a.Host.Pod!.Address), "data path survives a stop");
        var network = a.Network;
        await network.TeardownAsync(CancellationToken.None);
        await a.StopAsync();
        Assert.Null(KernelOracle.Link(a.Host.Namespace, "flannel.1"));
        Assert.DoesNotContain(KernelOracle.Routes(a.Host.Namespace), r => r.Contains("flannel", StringComparison.Ordinal));
    }
}
