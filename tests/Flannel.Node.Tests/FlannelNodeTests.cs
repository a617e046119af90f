using System.Net;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Flannel.Node.Tests;

public sealed class FlannelNodeTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static (LeaseManager Manager, InMemoryLeaseRegistry Registry) Store(TimeProvider? time = null)
    {
        var registry = new InMemoryLeaseRegistry(timeProvider: time);
        return (new LeaseManager(registry, new LeaseManagerOptions { NetworkConfig = Fixtures.Config(), TimeProvider = time ?? TimeProvider.System }), registry);
    }

    [Fact]
    public async Task StartsFromAConfigBuiltInCodeWithoutFilesOrStoreConfig()
    {
        var (manager, registry) = Store();
        var backend = new RecordingBackendFactory();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [backend] });

        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);

        Assert.Equal(NodeState.Ready, node.State);
        Assert.True(node.Ready.IsCompletedSuccessfully);
        var lease = Assert.IsType<Lease>(node.CurrentLease);
        Assert.NotNull(lease.Subnet);
        Assert.True(IPNetwork.Parse("10.244.0.0/16").Contains(lease.Subnet!.Value.BaseAddress));
        Assert.Equal(IPAddress.Parse("198.18.0.1"), lease.Attributes.PublicIP);
        Assert.Null(await registry.GetNetworkConfigAsync(TestContext.Current.CancellationToken));
        Assert.Single((await registry.ListAsync(TestContext.Current.CancellationToken)).Leases);
        Assert.Equal(1500, node.Mtu);
    }

    [Fact]
    public async Task ATestAssemblyBackendReceivesPeerAddedAndRemoved()
    {
        var (manager, _) = Store();
        var backend = new RecordingBackendFactory();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [backend] });
        var events = new List<NodeEvent>();
        node.EventRaised += (_, e) => { lock (events) { events.Add(e); } };
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        await backend.RunStarted.Task.WaitAsync(Wait);

        var peer = await manager.AcquireLeaseAsync(new LeaseRequest(new LeaseAttributes { PublicIP = IPAddress.Parse("198.18.0.2"), BackendType = "recording" }), TestContext.Current.CancellationToken);
        await Until(() => backend.PeerEvents.Any(e => e.Kind == LeaseEventKind.Added && e.Lease.Subnet == peer.Subnet));
        await manager.ReleaseLeaseAsync(peer, TestContext.Current.CancellationToken);
        await Until(() => backend.PeerEvents.Any(e => e.Kind == LeaseEventKind.Removed && e.Lease.Subnet == peer.Subnet));

        await Until(() => { lock (events) { return events.Any(e => e.Kind == NodeEventKind.PeerRemoved && e.Lease!.Subnet == peer.Subnet); } });
        lock (events)
        {
            var added = Assert.Single(events, e => e.Kind == NodeEventKind.PeerAdded);
            Assert.Equal(IPAddress.Parse("198.18.0.2"), added.Lease!.Attributes.PublicIP);
            var removed = Assert.Single(events, e => e.Kind == NodeEventKind.PeerRemoved);
            Assert.Equal(IPAddress.Parse("198.18.0.2"), removed.Lease!.Attributes.PublicIP);
            Assert.DoesNotContain(events, e => e.Kind is NodeEventKind.PeerAdded && e.Lease!.Subnet == node.CurrentLease!.Subnet);
        }
    }

    [Fact]
    public async Task UnknownBackendIsAConfigurationErrorListingTheKnownTypes()
    {
        var (manager, registry) = Store();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1", type: "vxlam"), new FlannelNodeServices { SubnetManager = manager, Backends = [new RecordingBackendFactory(), new RecordingBackendFactory("other")] });

        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(() => node.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal("Backend.Type", ex.Field);
        Assert.Contains("vxlam", ex.Message, StringComparison.Ordinal);
        Assert.Contains("other, recording", ex.Message, StringComparison.Ordinal);
        Assert.Equal(NodeState.Faulted, node.State);
        await Assert.ThrowsAsync<FlannelConfigurationException>(() => node.Completion);
        Assert.Empty((await registry.ListAsync(TestContext.Current.CancellationToken)).Leases);
    }

    [Fact]
    public async Task ABackendChangeIsRefusedWithoutAnExplicitMigration()
    {
        var (manager, registry) = Store();
        using var dir = new TempDir();
        await File.WriteAllTextAsync(dir.File("subnet.env"), "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\nFLANNEL_BACKEND_TYPE=udp\n", TestContext.Current.CancellationToken);
        var state = new SubnetEnvStateStore(dir.File("subnet.env"));
        var services = new FlannelNodeServices { SubnetManager = manager, Backends = [new RecordingBackendFactory()], StateStore = state };
        await using (var refused = new FlannelNode(Fixtures.Options("198.18.0.1"), services))
        {
            var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(() => refused.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains("ran backend \"udp\"", ex.Message, StringComparison.Ordinal);
            Assert.Contains("cleanup", ex.Message, StringComparison.Ordinal);
            Assert.Empty((await registry.ListAsync(TestContext.Current.CancellationToken)).Leases);
        }

        await using var allowed = new FlannelNode(Fixtures.Options("198.18.0.1") with { AllowBackendChange = true }, services);
        await allowed.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        Assert.Equal(IPNetwork.Parse("10.244.7.0/24"), allowed.CurrentLease!.Subnet);
        var written = await File.ReadAllTextAsync(dir.File("subnet.env"), TestContext.Current.CancellationToken);
        Assert.Equal("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\nFLANNEL_BACKEND_TYPE=recording\n", written);
        Assert.Throws<FlannelConfigurationException>(() => allowed.EnsureCompatible(Fixtures.Config("host-gw")));
        allowed.EnsureCompatible(Fixtures.Config());
    }

    [Fact]
    public async Task ALostLeaseIsTakenBackWhenTheSubnetIsStillFree()
    {
        var (manager, registry) = Store();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [new RecordingBackendFactory()] });
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        var before = node.CurrentLease!;
        var reacquired = new TaskCompletionSource<Lease>();
        node.EventRaised += (_, e) => { if (e.Kind == NodeEventKind.LeaseAcquired) { reacquired.TrySetResult(e.Lease!); } };

        Assert.True(await registry.DeleteAsync(before.Subnet, null, TestContext.Current.CancellationToken));

        var again = await reacquired.Task.WaitAsync(Wait);
        Assert.Equal(before.Subnet, again.Subnet);
        Assert.Equal(NodeState.Ready, node.State);
        Assert.Single((await registry.ListAsync(TestContext.Current.CancellationToken)).Leases);
    }

    [Fact]
    public async Task ALostLeaseWhoseSubnetWasTakenFaultsCompletionWithLeaseRevoked()
    {
        var (manager, registry) = Store();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [new RecordingBackendFactory()] });
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        var own = node.CurrentLease!;

        // Another node's lease now stands under our key (as after an expiry and a re-allocation).
        await registry.UpdateAsync(own with { Attributes = new LeaseAttributes { PublicIP = IPAddress.Parse("198.18.0.9") } }, TimeSpan.FromHours(1), TestContext.Current.CancellationToken);

        var ex = await Assert.ThrowsAsync<LeaseRevokedException>(() => node.Completion.WaitAsync(Wait));
        Assert.Contains(own.Subnet.ToString()!, ex.Message, StringComparison.Ordinal);
        Assert.Equal(NodeState.Faulted, node.State);
        var leases = (await registry.ListAsync(TestContext.Current.CancellationToken)).Leases;
        Assert.Single(leases);
        Assert.Equal(IPAddress.Parse("198.18.0.9"), leases[0].Attributes.PublicIP);
    }

    [Fact]
    public async Task TheLeaseIsRenewedBeforeItExpires()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-26T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var (manager, _) = Store(time);
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [new RecordingBackendFactory()], TimeProvider = time });
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        var first = node.CurrentLease!.Expiration!.Value;
        var renewed = new TaskCompletionSource<Lease>();
        node.EventRaised += (_, e) => { if (e.Kind == NodeEventKind.LeaseChanged && e.Lease!.Expiration > first) { renewed.TrySetResult(e.Lease); } };

        await Task.Delay(100, TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromHours(23) + TimeSpan.FromMinutes(1));

        var lease = await renewed.Task.WaitAsync(Wait);
        Assert.Equal(first + TimeSpan.FromHours(23) + TimeSpan.FromMinutes(1), lease.Expiration);
        Assert.Equal(NodeState.Ready, node.State);
    }

    [Fact]
    public async Task StopKeepsTheDataPathAndTeardownRemovesItAndReleasesTheLease()
    {
        var (manager, registry) = Store();
        var backend = new RecordingBackendFactory();
        using var dir = new TempDir();
        var state = new SubnetEnvStateStore(dir.File("run/subnet.env"));
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [backend], StateStore = state });
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        Assert.True(File.Exists(state.Path));

        await node.StopAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        Assert.Equal(NodeState.Stopped, node.State);
        Assert.True(node.Completion.IsCompletedSuccessfully);
        Assert.True(backend.RunEnded.Task.IsCompleted);
        Assert.Equal(0, backend.TeardownCalls);
        Assert.Single((await registry.ListAsync(TestContext.Current.CancellationToken)).Leases);
        Assert.True(File.Exists(state.Path));
        await node.StopAsync(TestContext.Current.CancellationToken);

        await node.TeardownAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        Assert.Equal(NodeState.TornDown, node.State);
        Assert.Equal(1, backend.TeardownCalls);
        Assert.Empty((await registry.ListAsync(TestContext.Current.CancellationToken)).Leases);
        Assert.False(File.Exists(state.Path));
    }

    [Fact]
    public async Task ABackendFailureFaultsCompletionWithATypedExceptionAndTheHostLives()
    {
        var (manager, _) = Store();
        var backend = new RecordingBackendFactory { FailRunWith = new IOException("device vanished") };
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [backend] });
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);

        var ex = await Assert.ThrowsAsync<BackendUnavailableException>(() => node.Completion.WaitAsync(Wait));
        Assert.IsType<IOException>(ex.InnerException);
        Assert.Contains("device vanished", ex.Message, StringComparison.Ordinal);
        Assert.Equal(NodeState.Faulted, node.State);
    }

    [Fact]
    public async Task AStoreOutageFaultsCompletionWithLeaseStoreUnavailableAndTheHostLives()
    {
        var (manager, _) = Store();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = new FailingWatchManager(manager, 1), Backends = [new RecordingBackendFactory { Watch = false }] });
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);

        var ex = await Assert.ThrowsAsync<LeaseStoreUnavailableException>(() => node.Completion.WaitAsync(Wait));
        Assert.True(ex.IsTransient);
        Assert.IsType<System.Net.Sockets.SocketException>(ex.InnerException);
        Assert.Equal(NodeState.Faulted, node.State);
    }

    [Fact]
    public async Task TwoNodesInOneProcessGetDistinctLeasesAndSeeEachOther()
    {
        var (manager, _) = Store();
        var b1 = new RecordingBackendFactory();
        var b2 = new RecordingBackendFactory();
        await using var n1 = new FlannelNode(Fixtures.Options("198.18.0.1", "one"), new FlannelNodeServices { SubnetManager = manager, Backends = [b1] });
        await using var n2 = new FlannelNode(Fixtures.Options("198.18.0.2", "two"), new FlannelNodeServices { SubnetManager = manager, Backends = [b2] });
        await Task.WhenAll(n1.StartAsync(TestContext.Current.CancellationToken), n2.StartAsync(TestContext.Current.CancellationToken)).WaitAsync(Wait);

        Assert.NotEqual(n1.CurrentLease!.Subnet, n2.CurrentLease!.Subnet);
        await Until(() => b1.PeerEvents.Any(e => e.Lease.Subnet == n2.CurrentLease.Subnet) && b2.PeerEvents.Any(e => e.Lease.Subnet == n1.CurrentLease.Subnet));
    }

    [Fact]
    public async Task ADuplicateResourceIsRejectedBeforeTheBackendRuns()
    {
        var (manager, registry) = Store();
        var claims = new NodeResourceClaims();
        var backend = new RecordingBackendFactory();
        NetworkConfig WithVni(int vni) => Fixtures.Config() with { Backend = System.Text.Json.JsonDocument.Parse($"{{\"Type\":\"recording\",\"VNI\":{vni}}}").RootElement };
        FlannelNode Node(string name, string ip, int vni) => new(
            Fixtures.Options(ip, name) with { NetworkConfig = WithVni(vni) },
            new FlannelNodeServices { SubnetManager = manager, Backends = [backend], Claims = claims });

        await using var first = Node("one", "198.18.0.1", 1);
        await using var second = Node("two", "198.18.0.2", 2);
        await using var duplicate = Node("three", "198.18.0.3", 1);
        await first.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        await second.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);

        var ex = await Assert.ThrowsAsync<FlannelConfigurationException>(() => duplicate.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("link:rec.1", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"one\"", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, backend.RegisterCalls);
        Assert.Equal(2, (await registry.ListAsync(TestContext.Current.CancellationToken)).Leases.Count);

        // A stopped node releases its claims: the same VNI can be started again in the process.
        await first.StopAsync(TestContext.Current.CancellationToken);
        await using var again = Node("one-again", "198.18.0.1", 1);
        await again.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        Assert.Equal(first.CurrentLease!.Subnet, again.CurrentLease!.Subnet);
    }

    [Fact]
    public async Task EventStreamEndsWhenTheNodeStops()
    {
        var (manager, _) = Store();
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1"), new FlannelNodeServices { SubnetManager = manager, Backends = [new RecordingBackendFactory()] });
        var seen = new List<NodeEvent>();
        var events = node.WatchEventsAsync(TestContext.Current.CancellationToken);
        var reader = Task.Run(async () => { await foreach (var e in events) { seen.Add(e); } });
        await node.StartAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);
        await node.StopAsync(TestContext.Current.CancellationToken).WaitAsync(Wait);

        await reader.WaitAsync(Wait);
        Assert.Contains(seen, e => e.Kind == NodeEventKind.LeaseAcquired);
        Assert.Equal([NodeState.Starting, NodeState.Ready, NodeState.Stopping, NodeState.Stopped], seen.Where(e => e.Kind == NodeEventKind.StateChanged).Select(e => e.State));
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not met in time");
            }

            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}

public sealed class NodeLoggingTests
{
    [Fact]
    public async Task EveryComponentLogsInsideTheNodesInstanceScope()
    {
        var collector = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        using var factory = new Microsoft.Extensions.Logging.LoggerFactory([new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(collector)]);
        var config = Fixtures.Config();
        var manager = new LeaseManager(new InMemoryLeaseRegistry(), new LeaseManagerOptions { NetworkConfig = config, LoggerFactory = factory });
        await using var node = new FlannelNode(Fixtures.Options("198.18.0.1", "blue"), new FlannelNodeServices { SubnetManager = manager, Backends = [new RecordingBackendFactory()], LoggerFactory = factory });
        await node.StartAsync(TestContext.Current.CancellationToken);

        var fromLeaseManager = collector.GetSnapshot().Where(r => r.Category == "Flannel.LeaseManager").ToList();
        Assert.NotEmpty(fromLeaseManager);
        Assert.All(fromLeaseManager, r => Assert.Contains(r.Scopes.OfType<IEnumerable<KeyValuePair<string, object?>>>().SelectMany(s => s), kv => kv.Key == "FlannelInstance" && (string?)kv.Value == "blue"));
    }
}
