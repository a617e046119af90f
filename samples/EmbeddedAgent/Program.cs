using System.Net;
using Flannel;
using Flannel.Node;
using Flannel.Sqlite;
using Flannel.Vxlan;
using Microsoft.Extensions.Logging;

// A custom agent running one flannel network in-process: config built in code, a lease store shared with the
// other agents on this machine, the vxlan backend, and peer events printed as they come. No files, no env vars.
var netns = args.Length > 0 ? args[0] : null;      // optional: a network namespace path to run in
var store = args.Length > 1 ? args[1] : "/tmp/flannel-agent.db";
var config = new NetworkConfig { Network = IPNetwork.Parse("10.244.0.0/16"), BackendType = BackendType.Vxlan };

using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
using var registry = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = store });
await using var node = new FlannelNode(
    new FlannelNodeOptions { InstanceName = "agent", NetworkConfig = config, NetworkNamespacePath = netns },
    new FlannelNodeServices
    {
        SubnetManager = new LeaseManager(registry, new LeaseManagerOptions { NetworkConfig = config }),
        Backends = [new VxlanBackendFactory()],
        InterfaceResolver = new NetlinkInterfaceResolver(netns),
        LoggerFactory = logging,
    });

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
var events = node.WatchEventsAsync(stop.Token);  // subscribe first: the peers already there arrive right after start
await node.StartAsync(stop.Token);
Console.WriteLine($"ready: lease {node.CurrentLease!.Subnet} on {node.Interface!.Name}, pod MTU {node.Mtu}");

try
{
    await foreach (var e in events)
    {
        if (e.Kind is NodeEventKind.PeerAdded or NodeEventKind.PeerRemoved)
        {
            Console.WriteLine($"{e.Kind}: {e.Lease!.Subnet} at {e.Lease.Attributes.PublicIP}");
        }
    }
}
catch (OperationCanceledException)
{
}

await node.StopAsync(CancellationToken.None);    // keeps the data path; TeardownAsync would remove it
