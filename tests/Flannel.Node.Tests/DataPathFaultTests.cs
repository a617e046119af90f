using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Flannel.HostGw;
using Flannel.TestKit;
using Flannel.Vxlan;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Flannel.Node.Tests;

/// <summary>
/// The kernel failing under a Ready node: two "hosts" (namespaces joined by a veth, 198.18.0.1 and .2) run a node each,
/// plus peers that exist only as leases (198.18.0.3, .4). The faults are made with iproute2 behind the node's back;
/// the kernel state is read back with iproute2, and pods are pinged across after the fault is gone.
/// </summary>
[Trait("Category", "Privileged")]
public sealed class DataPathFaultTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task HostGwUnderlayDownIsReportedNothingIsLostAndEveryPeerComesBackWhenItIsUp()
    {
        await using var lab = await Lab.StartAsync("host-gw");
        var (a, b) = (lab.A, lab.B);
        var node = lab.Node;
        var c = await lab.AddPeerAsync("198.18.0.3", null);
        string Route(Lease peer) => $"{peer.Subnet} via {peer.Attributes.PublicIP}";
        await Until(() => HostGwRoutes(a).SetEquals([Route(lab.PeerNode.CurrentLease!), Route(c)]), "host-gw routes to both peers");

        // The underlay goes down: the kernel drops every route through it and refuses new ones, and a peer joins
        // meanwhile. The node says so (one event, a clear message), stays Ready, and keeps its lease and its peers.
        a.Ip("link", "set", "eth0", "down");
        var d = await lab.AddPeerAsync("198.18.0.4", null);
        var degraded = await lab.NextAsync(NodeEventKind.DataPathDegraded);
        var error = Assert.IsType<BackendUnavailableException>(degraded.Error);
        Assert.Matches(@"^data path degraded: \d of \d peer route\(s\) could not be programmed; first: 10\.244\.\d+\.0/24 via 198\.18\.0\.\d dev eth0: ", error.Message);
        Assert.Contains("unreachable", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(node.DataPathProblem);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted);
        Assert.Contains((await lab.Manager.ListLeasesAsync(Ct)).Leases, l => l.Subnet == node.CurrentLease!.Subnet && Equals(l.Attributes.PublicIP, IPAddress.Parse("198.18.0.1")));
        Assert.Empty(HostGwRoutes(a));

        // The underlay comes back: every peer, including the one that joined during the fault, is routed again.
        a.Ip("link", "set", "eth0", "up");
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        await Until(() => HostGwRoutes(a).SetEquals([Route(lab.PeerNode.CurrentLease!), Route(c), Route(d)]), "host-gw routes to all three peers");
        Assert.Null(node.DataPathProblem);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted);

        // And packets flow: a pod address of host B answers host A through the restored route.
        var pod = IPAddress.Parse(lab.PeerNode.CurrentLease!.Subnet!.Value.BaseAddress.ToString()[..^1] + "5");
        b.Ip("addr", "add", $"{pod}/32", "dev", "lo");
        using var pinger = Pinger.Open(a.Path);
        Assert.True(await Task.Run(() => pinger.WaitForReply(pod, Wait), Ct), $"no echo reply from {pod}");
        Assert.Single(lab.Logs.GetSnapshot(), r => r.Id.Id == 7016);
    }

    [PrivilegedFact]
    public async Task VxlanDeviceRemovedOrSetDownAndAVtepTheKernelRefusesAreRepairedAndReported()
    {
        await using var lab = await Lab.StartAsync("vxlan");
        var (a, b) = (lab.A, lab.B);
        var node = lab.Node;
        var peers = new List<Lease> { lab.PeerNode.CurrentLease!, await lab.AddPeerAsync("198.18.0.3", "aa:bb:cc:00:00:03") };
        await Until(() => VxlanProgrammed(a, peers), "vxlan peers programmed");

        // flannel.1 set down: the kernel drops its routes without telling anyone; the node's backend puts them back.
        a.Ip("link", "set", "flannel.1", "down");
        await Until(() => VxlanProgrammed(a, peers), "vxlan peers re-programmed after flannel.1 was set down");

        // flannel.1 deleted while a peer joins: the device is recreated and every peer, old and new, programmed.
        a.Ip("link", "del", "flannel.1");
        peers.Add(await lab.AddPeerAsync("198.18.0.4", "aa:bb:cc:00:00:04"));
        await Until(() => VxlanProgrammed(a, peers), "vxlan peers re-programmed after flannel.1 was deleted");
        Assert.Contains(lab.Logs.GetSnapshot(), r => r.Level == LogLevel.Warning && r.Message.Contains("flannel.1 was deleted", StringComparison.Ordinal));

        // A fault the backend cannot repair by itself: the underlay's MTU drops below what the VTEP needs, and
        // flannel.1 goes. The kernel refuses the device; the node reports it, stays Ready, and keeps retrying.
        a.Ip("link", "set", "eth0", "mtu", "1000");
        a.Ip("link", "del", "flannel.1");
        // A heal already in flight when the device goes may first report the peers it could not program on it; the
        // problem the node settles on is the device the kernel refuses.
        var degraded = await lab.NextAsync(NodeEventKind.DataPathDegraded);
        Assert.StartsWith("data path degraded: ", degraded.Error!.Message, StringComparison.Ordinal);
        await Until(() => node.DataPathProblem?.StartsWith("reconciling flannel.1 failed: RTM_NEWLINK failed: EINVAL", StringComparison.Ordinal) == true, "the device refusal reported as the data-path problem");
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted);

        // While it lasts, the retries slow down: a few log lines, not one every 200 ms.
        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.NotNull(node.DataPathProblem);
        Assert.InRange(lab.Logs.GetSnapshot().Count(r => r.Id.Name == "ReconcileFailed"), 1, 6);

        // The MTU is back: the device, and every peer on it, are back within the bounded wait; pods answer.
        a.Ip("link", "set", "eth0", "mtu", "1500");
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        await Until(() => VxlanProgrammed(a, peers), "vxlan peers re-programmed after the MTU was restored");
        Assert.Null(node.DataPathProblem);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted);
        using var pinger = Pinger.Open(a.Path);
        var vtep = lab.PeerNode.CurrentLease!.Subnet!.Value.BaseAddress;
        Assert.True(await Task.Run(() => pinger.WaitForReply(vtep, Wait), Ct), $"no echo reply from {vtep}");
    }

    [PrivilegedFact]
    public async Task VxlanStaysReadyWhenTheStoreResyncsWhileTheKernelRefusesTheVtep()
    {
        await using var lab = await Lab.StartAsync("vxlan");
        var (a, node) = (lab.A, lab.Node);
        var peers = new List<Lease> { lab.PeerNode.CurrentLease!, await lab.AddPeerAsync("198.18.0.3", "aa:bb:cc:00:00:03") };
        await Until(() => VxlanProgrammed(a, peers), "vxlan peers programmed");
        a.Ip("link", "set", "eth0", "mtu", "1000");
        a.Ip("link", "del", "flannel.1");
        await lab.NextAsync(NodeEventKind.DataPathDegraded);

        // The store hands every watch the whole lease set again (as etcd does after a compaction) while the kernel
        // still refuses the device: the node stays Ready and retrying, instead of failing for good.
        await lab.Registry.ResyncAsync(Ct);
        peers.Add(await lab.AddPeerAsync("198.18.0.4", "aa:bb:cc:00:00:04"));
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted, node.Completion.Exception?.ToString());
        Assert.NotNull(node.DataPathProblem);

        a.Ip("link", "set", "eth0", "mtu", "1500");
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        await Until(() => VxlanProgrammed(a, peers), "vxlan peers re-programmed after the MTU was restored");
        Assert.Equal(NodeState.Ready, node.State);
    }

    /// <summary>"SUBNET via GATEWAY" of every route carrying host-gw's protocol mark (70).</summary>
    private static HashSet<string> HostGwRoutes(TestNamespace ns) =>
        [.. ns.IpJson("route", "show", "proto", "70").EnumerateArray().Select(r => $"{r.GetProperty("dst").GetString()} via {r.GetProperty("gateway").GetString()}")];

    /// <summary>Whether every peer has its route, neighbour and FDB entry on flannel.1 (iproute2's view).</summary>
    private static bool VxlanProgrammed(TestNamespace ns, IEnumerable<Lease> peers)
    {
        var links = ns.IpJson("link", "show").EnumerateArray().Select(l => l.GetProperty("ifname").GetString()).ToHashSet();
        if (!links.Contains("flannel.1"))
        {
            return false;
        }

        var routes = ns.IpJson("route", "show", "dev", "flannel.1").EnumerateArray().Select(r => r.GetProperty("dst").GetString()).ToHashSet();
        var neighbours = ns.IpJson("neigh", "show", "dev", "flannel.1").EnumerateArray()
            .Where(n => n.TryGetProperty("lladdr", out _)).Select(n => $"{n.GetProperty("dst").GetString()} {n.GetProperty("lladdr").GetString()}").ToHashSet();
        var fdb = ns.BridgeJson("fdb", "show", "dev", "flannel.1").EnumerateArray()
            .Where(e => e.TryGetProperty("dst", out _)).Select(e => $"{e.GetProperty("mac").GetString()} {e.GetProperty("dst").GetString()}").ToHashSet();
        return peers.All(p =>
        {
            var mac = p.Attributes.BackendData!.Value.GetProperty("VtepMAC").GetString();
            var vtep = p.Subnet!.Value.BaseAddress;
            return routes.Contains(p.Subnet.ToString()) && neighbours.Contains($"{vtep} {mac}") && fdb.Contains($"{mac} {p.Attributes.PublicIP}");
        });
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not reached within {Wait}: {what}");
            }

            await Task.Delay(50, Ct);
        }
    }

    /// <summary>
    /// Host A's node under test and host B's node, on one in-memory lease store; A's events and logs are recorded.
    /// Disposing stops the nodes, then deletes the namespaces.
    /// </summary>
    private sealed class Lab : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _owned = [];
        private IAsyncEnumerator<NodeEvent> _events = null!;

        public required FlannelNode Node { get; init; }

        public required FlannelNode PeerNode { get; init; }

        public required LeaseManager Manager { get; init; }

        public required ResyncingRegistry Registry { get; init; }

        public required FakeLogCollector Logs { get; init; }

        public required string Type { get; init; }

        public required TestNamespace A { get; init; }

        public required TestNamespace B { get; init; }

        public static async Task<Lab> StartAsync(string type)
        {
            var (a, b) = EmbeddingKernelTests.Hosts();
            var config = new NetworkConfig
            {
                Network = IPNetwork.Parse("10.244.0.0/16"),
                BackendType = new BackendType(type),
                Backend = JsonDocument.Parse($"{{\"Type\":\"{type}\"}}").RootElement,
            };
            var registry = new ResyncingRegistry(new InMemoryLeaseRegistry());
            var manager = new LeaseManager(registry, new LeaseManagerOptions { NetworkConfig = config });
            var collector = new FakeLogCollector();
            var logs = new LoggerFactory([new FakeLoggerProvider(collector)]);
            FlannelNode Create(string name, TestNamespace ns, ILoggerFactory? loggerFactory) => new(
                new FlannelNodeOptions { InstanceName = name, NodeName = name, NetworkConfig = config, NetworkNamespacePath = ns.Path },
                new FlannelNodeServices
                {
                    SubnetManager = manager,
                    Backends = [new VxlanBackendFactory(new VxlanBackendOptions { StateDirectory = null }), new HostGwBackendFactory()],
                    InterfaceResolver = new NetlinkInterfaceResolver(ns.Path),
                    LoggerFactory = loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
                });
            var lab = new Lab { A = a, B = b, Node = Create("a", a, logs), PeerNode = Create("b", b, null), Manager = manager, Registry = registry, Logs = collector, Type = type };
            lab._owned.AddRange([new AsyncDisposer(a.Dispose), new AsyncDisposer(b.Dispose), lab.Node, lab.PeerNode]);
            lab._events = lab.Node.WatchEventsAsync(Ct).GetAsyncEnumerator(Ct);
            lab._owned.Add(lab._events);
            lab._owned.Add(new AsyncDisposer(logs.Dispose));
            try
            {
                await lab.PeerNode.StartAsync(Ct).WaitAsync(Wait, Ct);
                await lab.Node.StartAsync(Ct).WaitAsync(Wait, Ct);
                return lab;
            }
            catch
            {
                await lab.DisposeAsync();
                throw;
            }
        }

        /// <summary>A peer that exists only as a lease (no host behind it).</summary>
        public Task<Lease> AddPeerAsync(string publicIP, string? vtepMac) => Manager.AcquireLeaseAsync(
            new LeaseRequest(new LeaseAttributes
            {
                PublicIP = IPAddress.Parse(publicIP),
                BackendType = Type,
                BackendData = vtepMac is null ? null : JsonDocument.Parse($"{{\"VNI\":1,\"VtepMAC\":\"{vtepMac}\"}}").RootElement,
            }),
            Ct).AsTask();

        /// <summary>The next event of this kind from node A (others are skipped), within the bounded wait.</summary>
        public async Task<NodeEvent> NextAsync(NodeEventKind kind)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(Wait);
            while (await _events.MoveNextAsync().AsTask().WaitAsync(timeout.Token))
            {
                if (_events.Current.Kind == kind)
                {
                    return _events.Current;
                }
            }

            throw new InvalidOperationException($"node A's events ended before {kind}; state {Node.State}");
        }

        public async ValueTask DisposeAsync()
        {
            // Everything is disposed (the namespaces last) even when something before fails; the first failure is rethrown.
            Exception? first = null;
            for (var i = _owned.Count - 1; i >= 0; i--)
            {
                try
                {
                    await _owned[i].DisposeAsync();
                }
                catch (Exception ex)
                {
                    first ??= ex;
                }
            }

            if (first is not null)
            {
                throw first;
            }
        }

        private sealed class AsyncDisposer(Action dispose) : IAsyncDisposable
        {
            public ValueTask DisposeAsync()
            {
                dispose();
                return ValueTask.CompletedTask;
            }
        }
    }

    /// <summary>
    /// The in-memory store, plus what etcd does after a compaction (or a watch restart): every open watch receives the
    /// whole lease set as a snapshot in the middle of its stream (<see cref="LeaseWatchResult.Snapshot"/>).
    /// </summary>
    private sealed class ResyncingRegistry(InMemoryLeaseRegistry inner) : ILeaseRegistry
    {
        private readonly List<Channel<LeaseWatchResult>> _watches = [];

        public ValueTask<NetworkConfig?> GetNetworkConfigAsync(CancellationToken cancellationToken) => inner.GetNetworkConfigAsync(cancellationToken);

        public ValueTask<LeaseSnapshot> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);

        public ValueTask<Lease?> CreateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken) => inner.CreateAsync(lease, ttl, cancellationToken);

        public ValueTask<Lease> UpdateAsync(Lease lease, TimeSpan? ttl, CancellationToken cancellationToken) => inner.UpdateAsync(lease, ttl, cancellationToken);

        public ValueTask<bool> DeleteAsync(IPNetwork? subnet, IPNetwork? ipv6Subnet, CancellationToken cancellationToken) => inner.DeleteAsync(subnet, ipv6Subnet, cancellationToken);

        public async IAsyncEnumerable<LeaseWatchResult> WatchAsync(long afterRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            var merged = Channel.CreateUnbounded<LeaseWatchResult>();
            lock (_watches)
            {
                _watches.Add(merged);
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var pump = Task.Run(
                async () =>
                {
                    try
                    {
                        await foreach (var r in inner.WatchAsync(afterRevision, stop.Token))
                        {
                            await merged.Writer.WriteAsync(r, stop.Token);
                        }

                        merged.Writer.TryComplete();
                    }
                    catch (Exception ex)
                    {
                        merged.Writer.TryComplete(ex is OperationCanceledException ? null : ex);
                    }
                },
                CancellationToken.None);
            try
            {
                await foreach (var r in merged.Reader.ReadAllAsync(cancellationToken))
                {
                    yield return r;
                }
            }
            finally
            {
                lock (_watches)
                {
                    _watches.Remove(merged);
                }

                await stop.CancelAsync();
                await pump;
            }
        }

        /// <summary>Sends every open watch the current lease set as a snapshot.</summary>
        public async Task ResyncAsync(CancellationToken cancellationToken)
        {
            var snapshot = await inner.ListAsync(cancellationToken);
            lock (_watches)
            {
                foreach (var w in _watches)
                {
                    w.Writer.TryWrite(new LeaseWatchResult { Snapshot = snapshot.Leases, Revision = snapshot.Revision });
                }
            }
        }
    }
}
