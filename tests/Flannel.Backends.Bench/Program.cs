// backends-bench: measures the vxlan and host-gw backends against the anchors of /work/shared/bench/anchors.
//
//   backends-bench converge -b vxlan|host-gw [-n 5000] [-r 3]
//       In a fresh namespace (eth0 198.18.0.1/15, as cp.sh builds it) N peer leases arrive at once (one lease
//       snapshot); prints, per repetition, the time from RunAsync until the first full reconcile has programmed
//       them (vxlan: N neighbours + N FDB entries + N onlink routes; host-gw: N routes via distinct gateways):
//         converge-<backend> <N> <seconds> <objects_per_second>
//       Peers are nlbench's objects: subnet 10.(128+i/256).(i%256).0/24, VtepMAC 02:a0:00:ii:ii:ii, public IP
//       198.18.((i+2)/256).((i+2)%256) (i+2, not nlbench's i+1, so that no peer claims this node's 198.18.0.1).
//       One untimed warm-up run (N=256) precedes the measured ones, so JIT compilation is not timed;
//       the first (cold) measured figure is printed too.
//
//   backends-bench program -b vxlan|host-gw --ns NS1,NS2
//       Runs one backend instance per existing namespace (dp.sh's hosts: eth0 198.18.0.H/24, cni0 10.244.H.1/24),
//       sharing one in-memory lease store, prints "ready" once both are programmed, and keeps running until
//       SIGTERM or SIGINT.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;
using Flannel;
using Flannel.HostGw;
using Flannel.TestKit;
using Flannel.Vxlan;

if (args.Length == 0)
{
    return Usage();
}

var mode = args[0];
var backend = "vxlan";
var n = 5000;
var reps = 3;
string[] namespaces = [];
for (var a = 1; a < args.Length; a++)
{
    switch (args[a])
    {
        case "-b": backend = args[++a]; break;
        case "-n": n = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
        case "-r": reps = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
        case "--ns": namespaces = args[++a].Split(','); break;
        default: return Usage();
    }
}

if (backend is not ("vxlan" or "host-gw") || n is < 1 or > 30000)
{
    return Usage();
}

switch (mode)
{
    case "converge":
        await ConvergeAsync(backend, 256, print: false);
        for (var r = 0; r < reps; r++)
        {
            var s = await ConvergeAsync(backend, n, print: true);
            if (r == 0)
            {
                Console.Error.WriteLine($"(first measured run: {s:F4} s)");
            }
        }

        return 0;
    case "program" when namespaces.Length >= 2:
        return await ProgramAsync(backend, namespaces);
    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("usage: backends-bench converge -b vxlan|host-gw [-n N] [-r REPS] | program -b vxlan|host-gw --ns NS1,NS2");
    return 2;
}

static IBackendFactory Factory(string backend) => backend == "vxlan"
    ? new VxlanBackendFactory(new VxlanBackendOptions { StateDirectory = null })
    : new HostGwBackendFactory();

static int ReconcileCount(INetwork network) => network switch
{
    VxlanNetwork v => v.ReconcileCount,
    HostGwNetwork h => h.ReconcileCount,
    _ => throw new InvalidOperationException(network.GetType().Name),
};

static async Task<double> ConvergeAsync(string backend, int n, bool print)
{
    using var ns = TestNamespace.Create("bb");
    ns.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1");
    ns.Ip("addr", "add", "198.18.0.1/15", "dev", "eth0");
    ns.Ip("link", "set", "eth0", "up");
    ns.Ip("link", "set", "eth1", "up");
    var index = ns.IpJson("link", "show", "eth0")[0].GetProperty("ifindex").GetInt32();

    var config = NetworkConfig.Parse("{\"Network\":\"10.0.0.0/8\",\"SubnetLen\":24,\"Backend\":{\"Type\":\"" + backend + "\"}}");
    using var registry = new InMemoryLeaseRegistry(config);
    for (var i = 0; i < n; i++)
    {
        var mac = new PhysicalAddress([2, 0xa0, 0, (byte)(i >> 16), (byte)(i >> 8), (byte)i]);
        await registry.CreateAsync(
            new Lease
            {
                Subnet = new IPNetwork(new IPAddress([10, (byte)(128 + (i >> 8)), (byte)(i & 255), 0]), 24),
                Attributes = new LeaseAttributes
                {
                    PublicIP = new IPAddress([198, 18, (byte)((i + 2) >> 8), (byte)((i + 2) & 255)]),
                    BackendType = backend,
                    BackendData = backend == "vxlan" ? VtepData.Create(1, mac) : null,
                },
            },
            TimeSpan.FromHours(1),
            CancellationToken.None);
    }

    var manager = new LeaseManager(registry);
    var context = new BackendContext
    {
        SubnetManager = manager,
        Interface = new ExternalInterface { Name = "eth0", Index = index, Mtu = 1500, Address = IPAddress.Parse("198.18.0.1"), PublicIP = IPAddress.Parse("198.18.0.1") },
        NetworkNamespacePath = ns.Path,
        PreviousSubnet = IPNetwork.Parse("10.1.0.0/24"),
    };
    await using var network = await Factory(backend).Create(context).RegisterNetworkAsync(config, CancellationToken.None);
    using var stop = new CancellationTokenSource();
    var sw = Stopwatch.StartNew();
    var run = network.RunAsync(stop.Token);
    while (ReconcileCount(network) < 1)
    {
        if (run.IsCompleted)
        {
            await run;
            throw new InvalidOperationException("the network stopped before converging");
        }

        await Task.Delay(1);
    }

    var seconds = sw.Elapsed.TotalSeconds;
    await stop.CancelAsync();
    await run;

    // Check the result with iproute2 before reporting it.
    var routes = ns.IpJson("route", "show", "table", "main", "proto", "70").GetArrayLength();
    var objects = routes;
    if (backend == "vxlan")
    {
        var neigh = ns.IpJson("-4", "neigh", "show", "dev", "flannel.1").GetArrayLength();
        var fdb = ns.BridgeJson("fdb", "show", "dev", "flannel.1").EnumerateArray().Count(e => e.TryGetProperty("dst", out _));
        if (neigh != n || fdb != n)
        {
            throw new InvalidOperationException($"expected {n} neighbours and FDB entries, found {neigh} and {fdb}");
        }

        objects += neigh + fdb;
    }

    if (routes != n)
    {
        throw new InvalidOperationException($"expected {n} routes, found {routes}");
    }

    if (print)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"converge-{backend} {n} {seconds:F4} {objects / seconds:F0}"));
    }

    return seconds;
}

static async Task<int> ProgramAsync(string backend, string[] namespaces)
{
    var config = NetworkConfig.Parse("{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"" + backend + "\"}}");
    using var registry = new InMemoryLeaseRegistry(config);
    using var stop = new CancellationTokenSource();
    var networks = new List<INetwork>();
    var runs = new List<Task>();
    for (var h = 0; h < namespaces.Length; h++)
    {
        var path = "/var/run/netns/" + namespaces[h];
        var link = JsonDocument.Parse(Shell.Check("ip", "-n", namespaces[h], "-j", "link", "show", "eth0")).RootElement[0];
        var address = IPAddress.Parse($"198.18.0.{h + 1}");
        var context = new BackendContext
        {
            SubnetManager = new LeaseManager(registry),
            Interface = new ExternalInterface { Name = "eth0", Index = link.GetProperty("ifindex").GetInt32(), Mtu = link.GetProperty("mtu").GetInt32(), Address = address, PublicIP = address },
            NetworkNamespacePath = path,
            InstanceName = namespaces[h],
            PreviousSubnet = IPNetwork.Parse($"10.244.{h + 1}.0/24"),
        };
        var network = await Factory(backend).Create(context).RegisterNetworkAsync(config, CancellationToken.None);
        networks.Add(network);
    }

    foreach (var network in networks)
    {
        runs.Add(network.RunAsync(stop.Token));
    }

    var deadline = Stopwatch.StartNew();
    while (networks.Any(nw => ReconcileCount(nw) < 1 || nw.Lease.Subnet is null))
    {
        if (deadline.Elapsed > TimeSpan.FromSeconds(20))
        {
            Console.Error.WriteLine("not programmed within 20 s");
            return 1;
        }

        await Task.Delay(10);
    }

    // Peers appear through watch events after each agent's first snapshot; wait until every agent sees every other.
    await Task.Delay(500);
    Console.WriteLine("ready " + string.Join(' ', networks.Select(nw => nw.Lease.Subnet)));
    Console.Out.Flush();
    using var terminated = new SemaphoreSlim(0);
    using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; terminated.Release(); });
    using var onInt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; terminated.Release(); });
    await terminated.WaitAsync();
    await stop.CancelAsync();
    await Task.WhenAll(runs);
    foreach (var network in networks)
    {
        await network.DisposeAsync();
    }

    return 0;
}
