using System.Net;
using System.Text.Json;
using Flannel.HostGw;
using Flannel.TestKit;
using Flannel.Vxlan;
using Xunit;

namespace Flannel.Node.Tests;

/// <summary>
/// The embedding API against the real kernel: several networks in one process, collision checks before any
/// kernel change, stop keeping the data path, teardown removing it, and a backend switch in the same process.
/// Two "hosts" are namespaces joined by a veth (198.18.0.1 and .2); everything runs in this test process.
/// </summary>
public sealed class EmbeddingKernelTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Two hosts: namespaces joined by a veth <c>eth0</c> (198.18.0.1 and .2), each with a default route.</summary>
    internal static (TestNamespace A, TestNamespace B) Hosts()
    {
        var a = TestNamespace.Create("emb-a");
        var b = TestNamespace.Create("emb-b");
        a.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b.Name);
        a.Ip("addr", "add", "198.18.0.1/24", "dev", "eth0");
        b.Ip("addr", "add", "198.18.0.2/24", "dev", "eth0");
        foreach (var ns in new[] { a, b })
        {
            ns.Ip("link", "set", "eth0", "up");
            ns.Ip("route", "add", "default", "via", "198.18.0.254", "dev", "eth0");
        }

        return (a, b);
    }

    private static NetworkConfig Vxlan(string network, int vni) => new()
    {
        Network = IPNetwork.Parse(network),
        BackendType = BackendType.Vxlan,
        Backend = JsonDocument.Parse($"{{\"Type\":\"vxlan\",\"VNI\":{vni}}}").RootElement,
    };

    private static FlannelNode Node(string name, TestNamespace ns, NetworkConfig config, ISubnetManager manager, NodeResourceClaims claims, bool allowChange = false) => new(
        new FlannelNodeOptions { InstanceName = name, NodeName = name, NetworkConfig = config, NetworkNamespacePath = ns.Path, AllowBackendChange = allowChange },
        new FlannelNodeServices
        {
            SubnetManager = manager,
            Backends = [new VxlanBackendFactory(new VxlanBackendOptions { StateDirectory = null }), new HostGwBackendFactory()],
            InterfaceResolver = new NetlinkInterfaceResolver(ns.Path),
            Claims = claims,
        });

    private static LeaseManager Manager(NetworkConfig config) => new(new InMemoryLeaseRegistry(), new LeaseManagerOptions { NetworkConfig = config });

    private static string KernelState(TestNamespace ns) =>
        string.Join('\n', ns.Ip("-d", "link", "show"), ns.Ip("route", "show"), ns.Ip("neigh", "show"), Shell.Check("bridge", "-n", ns.Name, "fdb", "show"))
            .Replace("\r", string.Empty, StringComparison.Ordinal);

    private static async Task ReachAsync(TestNamespace from, IPAddress to)
    {
        using var pinger = Pinger.Open(from.Path);
        Assert.True(await Task.Run(() => pinger.WaitForReply(to, Wait)), $"no echo reply from {to} in {from.Name}");
    }

    [PrivilegedFact]
    public async Task TwoNetworksPerProcessReachTheirPeersAndADuplicateVniIsRejectedBeforeAnyKernelChange()
    {
        var (a, b) = Hosts();
        using var _a = a;
        using var _b = b;
        var claims = new NodeResourceClaims();
        var ct = TestContext.Current.CancellationToken;
        var one = Vxlan("10.244.0.0/16", 1);
        var two = Vxlan("10.245.0.0/16", 2);
        var m1 = Manager(one);
        var m2 = Manager(two);
        await using var a1 = Node("a1", a, one, m1, claims);
        await using var b1 = Node("b1", b, one, m1, claims);
        await using var a2 = Node("a2", a, two, m2, claims);
        await using var b2 = Node("b2", b, two, m2, claims);
        await Task.WhenAll(a1.StartAsync(ct), b1.StartAsync(ct), a2.StartAsync(ct), b2.StartAsync(ct)).WaitAsync(Wait, ct);

        // Each network's devices carry its own VNI, and pods of both networks are reachable across the hosts.
        var links = a.IpJson("-d", "link", "show").EnumerateArray().Where(l => l.GetProperty("ifname").GetString()!.StartsWith("flannel.", StringComparison.Ordinal))
            .ToDictionary(l => l.GetProperty("ifname").GetString()!, l => l.GetProperty("linkinfo").GetProperty("info_data").GetProperty("id").GetInt32());
        Assert.Equal(new Dictionary<string, int> { ["flannel.1"] = 1, ["flannel.2"] = 2 }, links);
        await ReachAsync(a, b1.CurrentLease!.Subnet!.Value.BaseAddress);
        await ReachAsync(a, b2.CurrentLease!.Subnet!.Value.BaseAddress);
        await ReachAsync(b, a1.CurrentLease!.Subnet!.Value.BaseAddress);
        await ReachAsync(b, a2.CurrentLease!.Subnet!.Value.BaseAddress);

        // A third network with VNI 1 in host A collides with a1 and fails before the kernel is touched.
        var before = KernelState(a);
        await using var dup = Node("a3", a, Vxlan("10.246.0.0/16", 1), Manager(Vxlan("10.246.0.0/16", 1)), claims);
        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(() => dup.StartAsync(ct));
        Assert.Contains("flannel.1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"a1\"", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, KernelState(a));
    }

    [PrivilegedFact]
    public async Task StopKeepsTheKernelStateTeardownRemovesItAndAnotherBackendCanFollowInTheSameProcess()
    {
        var (a, b) = Hosts();
        using var _a = a;
        using var _b = b;
        var claims = new NodeResourceClaims();
        var ct = TestContext.Current.CancellationToken;
        var config = Vxlan("10.244.0.0/16", 1);
        var registry = new InMemoryLeaseRegistry();
        var manager = new LeaseManager(registry, new LeaseManagerOptions { NetworkConfig = config });
        await using var peer = Node("b", b, config, manager, claims);
        await peer.StartAsync(ct).WaitAsync(Wait, ct);

        // Start, then stop: the data path (device, route, neighbour, FDB entry) is exactly as it was while running.
        var node = Node("a", a, config, manager, claims);
        await node.StartAsync(ct).WaitAsync(Wait, ct);
        await ReachAsync(a, peer.CurrentLease!.Subnet!.Value.BaseAddress);
        var running = KernelState(a);
        await node.StopAsync(ct).WaitAsync(Wait, ct);
        Assert.Equal(running, KernelState(a));
        await node.DisposeAsync();

        // A new instance of another backend in the same process removes the old vxlan device before it starts.
        var hostGw = config with { BackendType = BackendType.HostGw, Backend = JsonDocument.Parse("{\"Type\":\"host-gw\"}").RootElement };
        await using var switched = Node("a-hostgw", a, hostGw, new LeaseManager(registry, new LeaseManagerOptions { NetworkConfig = hostGw }), claims, allowChange: true);
        await switched.StartAsync(ct).WaitAsync(Wait, ct);
        Assert.DoesNotContain(a.IpJson("link", "show").EnumerateArray(), l => l.GetProperty("ifname").GetString() == "flannel.1");

        // Teardown removes everything this node created and releases its lease.
        await switched.TeardownAsync(ct).WaitAsync(Wait, ct);
        Assert.DoesNotContain(a.IpJson("route", "show").EnumerateArray(), r => r.GetProperty("dst").GetString()!.StartsWith("10.244.", StringComparison.Ordinal));
        Assert.DoesNotContain((await registry.ListAsync(ct)).Leases, l => Equals(l.Attributes.PublicIP, IPAddress.Parse("198.18.0.1")));
    }
}
