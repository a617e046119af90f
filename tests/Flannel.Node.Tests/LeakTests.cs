using System.Net;
using System.Text.Json;
using Flannel.TestKit;
using Flannel.Vxlan;
using Xunit;

namespace Flannel.Node.Tests;

[CollectionDefinition(nameof(Isolated), DisableParallelization = true)]
public sealed class Isolated;

/// <summary>After stop and dispose, a node leaves no socket open and no background task running.</summary>
[Collection(nameof(Isolated))]
public sealed class LeakTests
{
    private static int OpenSockets() =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Count(f => f.LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true);

    [PrivilegedFact]
    public async Task StopAndDisposeCloseEverySocketTheNodesOpened()
    {
        using var a = TestNamespace.Create("leak-a");
        using var b = TestNamespace.Create("leak-b");
        a.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b.Name);
        a.Ip("addr", "add", "198.18.0.1/24", "dev", "eth0");
        b.Ip("addr", "add", "198.18.0.2/24", "dev", "eth0");
        a.Ip("link", "set", "eth0", "up");
        b.Ip("link", "set", "eth0", "up");
        var ct = TestContext.Current.CancellationToken;
        var config = new NetworkConfig { Network = IPNetwork.Parse("10.244.0.0/16"), Backend = JsonDocument.Parse("{\"Type\":\"vxlan\"}").RootElement };
        var manager = new LeaseManager(new InMemoryLeaseRegistry(), new LeaseManagerOptions { NetworkConfig = config });
        var before = OpenSockets();

        var nodes = new[] { (a, "198.18.0.1"), (b, "198.18.0.2") }.Select(h => new FlannelNode(
            new FlannelNodeOptions { InstanceName = h.Item1.Name, NetworkConfig = config, NetworkNamespacePath = h.Item1.Path, Interface = new InterfaceSelection { Interfaces = ["eth0"] } },
            new FlannelNodeServices
            {
                SubnetManager = manager,
                Backends = [new VxlanBackendFactory(new VxlanBackendOptions { StateDirectory = null })],
                InterfaceResolver = new NetlinkInterfaceResolver(h.Item1.Path),
            })).ToList();
        await Task.WhenAll(nodes.Select(n => n.StartAsync(ct))).WaitAsync(TimeSpan.FromSeconds(20), ct);
        var peerEvents = nodes[0].WatchEventsAsync(ct);
        Assert.True(OpenSockets() > before, "running vxlan nodes hold netlink sockets (kernel watch)");

        foreach (var n in nodes)
        {
            await n.StopAsync(ct);
            Assert.True(n.Completion.IsCompletedSuccessfully);
            await n.DisposeAsync();
        }

        // The event stream of a stopped node has ended, and every socket the nodes opened is closed.
        await foreach (var _ in peerEvents)
        {
        }

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (OpenSockets() > before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        Assert.Equal(before, OpenSockets());
    }
}
