using System.Net;
using System.Text.Json;
using Flannel.Node;
using Flannel.TestKit;
using Flannel.Udp.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Flannel.Udp.Tests;

/// <summary>
/// The udp data path breaking under a Ready node, against the real kernel: two "hosts" (namespaces joined by a veth,
/// 198.18.0.1 and .2) run a FlannelNode with the udp backend each. The faults are made behind the node's back
/// (iproute2, nft, a shut-down socket); the node must report each one (DataPathDegraded with the reason), repair what
/// can be repaired, report DataPathRestored, and carry packets again, staying Ready throughout.
/// </summary>
[Trait("Category", "Privileged")]
public sealed class HealthTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task TunDeletedSetDownOrItsRouteRemovedIsReportedRepairedAndRestored()
    {
        await using var lab = await NodeLab.StartAsync();
        var (a, node) = (lab.A, lab.Node);
        await lab.PingPeerAsync("before any fault");
        var index = TunIndex(a);

        // flannel0 deleted: a new TUN with the same name, address, MTU and route, and the peers, on a new socket.
        a.Ip("link", "del", "flannel0");
        var degraded = await lab.NextAsync(NodeEventKind.DataPathDegraded);
        Assert.Equal("data path degraded: the TUN device flannel0 was deleted", degraded.Error!.Message);
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        Assert.NotEqual(index, TunIndex(a));
        AssertConfigured(a);
        await lab.PingPeerAsync("after flannel0 was deleted");
        Assert.Contains(lab.Logs.GetSnapshot(), r => r.Id.Id == 4012);

        // flannel0 set down (the kernel drops its route with it): set up, route put back.
        a.Ip("link", "set", "flannel0", "down");
        degraded = await lab.NextAsync(NodeEventKind.DataPathDegraded);
        Assert.Equal("data path degraded: the TUN device flannel0 was down; the route for the overlay network 10.244.0.0/16 through flannel0 was missing", degraded.Error!.Message);
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        AssertConfigured(a);
        await lab.PingPeerAsync("after flannel0 was set down");

        // Only the overlay route removed.
        a.Ip("route", "del", "10.244.0.0/16", "dev", "flannel0");
        degraded = await lab.NextAsync(NodeEventKind.DataPathDegraded);
        Assert.Equal("data path degraded: the route for the overlay network 10.244.0.0/16 through flannel0 was missing", degraded.Error!.Message);
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        AssertConfigured(a);
        await lab.PingPeerAsync("after the overlay route was deleted");

        Assert.Null(node.DataPathProblem);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.False(node.Completion.IsCompleted);
    }

    [PrivilegedFact]
    public async Task SendsRefusedByAFirewallAreReportedUntilASendSucceeds()
    {
        await using var lab = await NodeLab.StartAsync();
        var (a, node) = (lab.A, lab.Node);
        await lab.PingPeerAsync("before the firewall");

        // A firewall in host A's namespace drops the tunnel's datagrams on output: sendmmsg fails with EPERM.
        var added = a.Exec("nft", ["add table ip fln-udp; add chain ip fln-udp out { type filter hook output priority 0; }; add rule ip fln-udp out udp dport 8285 drop"]);
        Assert.True(added.ExitCode == 0, added.Stderr);
        try
        {
            var blocked = Task.Run(() => lab.Pinger.PingOnce(lab.PeerTunAddress, TimeSpan.FromSeconds(1)), Ct);
            var degraded = await lab.NextAsync(NodeEventKind.DataPathDegraded);
            Assert.Matches(@"^data path degraded: \d+ packet\(s\) to peers could not be sent since the last check; last: to 198\.18\.0\.2:8285: EPERM \(Operation not permitted\)$", degraded.Error!.Message);
            Assert.False(await blocked);
            Assert.Equal(NodeState.Ready, node.State);
            Assert.NotNull(node.DataPathProblem);

            // Still failing on the next checks: still degraded (no flapping back to healthy while sends fail).
            Assert.False(await Task.Run(() => lab.Pinger.PingOnce(lab.PeerTunAddress, TimeSpan.FromSeconds(2)), Ct));
            Assert.NotNull(node.DataPathProblem);
        }
        finally
        {
            a.Exec("nft", ["delete table ip fln-udp"]);
        }

        // The firewall is gone: packets leave again, and the next check says so.
        await lab.PingPeerAsync("after the firewall was removed");
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        Assert.Null(node.DataPathProblem);
        Assert.Contains(lab.Logs.GetSnapshot(), r => r.Id.Id == 4002 && r.Message.Contains("EPERM", StringComparison.Ordinal));
    }

    [PrivilegedFact]
    public async Task AShutDownSocketFaultsTheReceiveLoopAndIsReplaced()
    {
        await using var lab = await NodeLab.StartAsync();
        var node = lab.Node;
        await lab.PingPeerAsync("before the socket fault");
        var network = (UdpNetwork)typeof(FlannelNode).GetField("_network", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(node)!;
        var old = network.DataPath;

        // The socket is shut down under the forwarder (as an ss -K or a broken descriptor would): receives return
        // nothing and sends fail. The node reports it and builds a new forwarder on a new socket.
        // (On an unconnected UDP socket shutdown answers ENOTCONN but shuts it down all the same.)
        Libc.Shutdown(old.Socket.Fd, Libc.SHUT_RDWR);
        var degraded = await lab.NextAsync(NodeEventKind.DataPathDegraded);
        Assert.StartsWith("data path degraded: receiving on the UDP socket 198.18.0.1:8285 failed: ESHUTDOWN", degraded.Error!.Message, StringComparison.Ordinal);
        await lab.NextAsync(NodeEventKind.DataPathRestored);
        Assert.NotSame(old, network.DataPath);
        Assert.Single(network.DataPath.Peers.Routes);
        await lab.PingPeerAsync("after the socket was replaced");
        Assert.Equal(NodeState.Ready, node.State);
    }

    private static int TunIndex(TestNamespace ns) => ns.IpJson("link", "show", "flannel0")[0].GetProperty("ifindex").GetInt32();

    /// <summary>flannel0 as the backend sets it up (iproute2's view): up, MTU 1472, its /32, and the overlay route through it.</summary>
    private static void AssertConfigured(TestNamespace ns)
    {
        var link = ns.IpJson("link", "show", "flannel0")[0];
        Assert.Contains("UP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(1472, link.GetProperty("mtu").GetInt32());
        var addresses = ns.IpJson("-4", "addr", "show", "flannel0")[0].GetProperty("addr_info").EnumerateArray().Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}");
        Assert.Contains("10.244.", Assert.Single(addresses), StringComparison.Ordinal);
        Assert.Single(ns.IpJson("route", "show", "10.244.0.0/16", "dev", "flannel0").EnumerateArray());
    }

    /// <summary>Host A's node under test and host B's node (udp backend) on one in-memory lease store; A's events and logs are recorded.</summary>
    private sealed class NodeLab : IAsyncDisposable
    {
        private readonly List<Func<ValueTask>> _cleanup = [];
        private readonly CancellationTokenSource _stopEvents = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        private IAsyncEnumerator<NodeEvent> _events = null!;

        public required TestNamespace A { get; init; }

        public required FlannelNode Node { get; init; }

        public required FlannelNode PeerNode { get; init; }

        public required FakeLogCollector Logs { get; init; }

        public Pinger Pinger { get; private set; } = null!;

        /// <summary>Host B's TUN address (its subnet's network address), local on B: it answers pings through the tunnel.</summary>
        public IPAddress PeerTunAddress => PeerNode.CurrentLease!.Subnet!.Value.BaseAddress;

        public static async Task<NodeLab> StartAsync()
        {
            var a = TestNamespace.Create("udp-a");
            TestNamespace? b = null;
            try
            {
                b = TestNamespace.Create("udp-b");
                a.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b.Name);
                a.Ip("addr", "add", "198.18.0.1/24", "dev", "eth0");
                b.Ip("addr", "add", "198.18.0.2/24", "dev", "eth0");
                foreach (var ns in new[] { a, b })
                {
                    ns.Ip("link", "set", "eth0", "up");
                    ns.Ip("route", "add", "default", "via", "198.18.0.254", "dev", "eth0");
                }
            }
            catch
            {
                b?.Dispose();
                a.Dispose();
                throw;
            }

            var config = new NetworkConfig
            {
                Network = IPNetwork.Parse("10.244.0.0/16"),
                BackendType = BackendType.Udp,
                Backend = JsonDocument.Parse("""{"Type":"udp"}""").RootElement,
            };
            var registry = new InMemoryLeaseRegistry();
            var manager = new LeaseManager(registry, new LeaseManagerOptions { NetworkConfig = config });
            var collector = new FakeLogCollector();
            var logs = new LoggerFactory([new FakeLoggerProvider(collector)]);
            FlannelNode Create(string name, TestNamespace ns, ILoggerFactory? loggerFactory) => new(
                new FlannelNodeOptions { InstanceName = name, NodeName = name, NetworkConfig = config, NetworkNamespacePath = ns.Path },
                new FlannelNodeServices
                {
                    SubnetManager = manager,
                    Backends = [new UdpBackendFactory(new UdpBackendOptions { HealthCheckInterval = TimeSpan.FromSeconds(1) })],
                    InterfaceResolver = new NetlinkInterfaceResolver(ns.Path),
                    LoggerFactory = loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance,
                });
            var lab = new NodeLab { A = a, Node = Create("a", a, logs), PeerNode = Create("b", b, null), Logs = collector };

            // Disposed in reverse: the nodes first, then the namespaces (even when something before fails).
            lab._cleanup.AddRange(
            [
                () => { a.Dispose(); return ValueTask.CompletedTask; },
                () => { b.Dispose(); return ValueTask.CompletedTask; },
                () => { registry.Dispose(); return ValueTask.CompletedTask; },
                () => { logs.Dispose(); return ValueTask.CompletedTask; },
                lab.Node.DisposeAsync,
                lab.PeerNode.DisposeAsync,
            ]);
            try
            {
                lab._events = lab.Node.WatchEventsAsync(lab._stopEvents.Token).GetAsyncEnumerator(lab._stopEvents.Token);
                lab._cleanup.Add(async () =>
                {
                    // A wait that timed out leaves a MoveNextAsync pending: end it before disposing the enumerator.
                    await lab._stopEvents.CancelAsync();
                    try
                    {
                        await lab._events.DisposeAsync();
                    }
                    catch (NotSupportedException)
                    {
                    }

                    lab._stopEvents.Dispose();
                });
                await lab.PeerNode.StartAsync(Ct).WaitAsync(Wait, Ct);
                await lab.Node.StartAsync(Ct).WaitAsync(Wait, Ct);
                lab.Pinger = Pinger.Open(a.Path);
                lab._cleanup.Add(() => { lab.Pinger.Dispose(); return ValueTask.CompletedTask; });
                return lab;
            }
            catch
            {
                await lab.DisposeAsync();
                throw;
            }
        }

        /// <summary>Pings host B's TUN address from host A until it answers, within the bounded wait.</summary>
        public async Task PingPeerAsync(string when)
        {
            var target = PeerTunAddress;
            var answered = await Task.Run(
                () =>
                {
                    var deadline = DateTime.UtcNow + Wait;
                    while (DateTime.UtcNow < deadline)
                    {
                        if (Pinger.PingOnce(target, TimeSpan.FromMilliseconds(500)))
                        {
                            return true;
                        }
                    }

                    return false;
                },
                Ct);
            Assert.True(answered, $"no echo reply from {target} through the tunnel {when}");
        }

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
            Exception? first = null;
            for (var i = _cleanup.Count - 1; i >= 0; i--)
            {
                try
                {
                    await _cleanup[i]();
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
    }
}
