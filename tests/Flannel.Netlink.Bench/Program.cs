// nlbench-cs: the C# twin of /work/shared/bench/anchors/c/nlbench.c, with the same command line and output:
//   nlbench-cs -n N -m single|batch [-b B] -i IFNAME [-u UNDERLAY_IF] [-M] phase...
//   -M: the client gets a meter factory and a MeterListener records every Flannel.Netlink measurement (as an
//       exporter would), so the cost of the instruments is measured too; the totals go to stderr at the end.
//   phases: route-add route-del neigh-add neigh-del fdb-add fdb-del route-add-1gw route-del-1gw
//           route-dump-list route-dump-visit neigh-dump-list neigh-dump-visit fdb-dump-list fdb-dump-visit
//   one line per phase on stdout: <phase> <N> <seconds> <ops_per_second>
// Dump phases read objects already present (run them after the add phase: `route-add route-dump-list
// route-dump-visit route-del`), of device IF: routes of the main IPv4 table (`ip route show dev IF`), ARP/NDP entries
// (`ip neigh show dev IF`), FDB entries (`bridge fdb show dev IF`). Each dumps the table R times (-r R, default: R
// calibrated on the warm-up dumps so the phase takes ~0.7 s) and prints entries per second (N x R / seconds). The
// -list phases call ListAsync, the -visit phases VisitAsync with a reusable visitor; both check every entry against
// the object nlbench made for it (index from the address, then MAC / gateway / VTEP compared) and the phase fails
// unless exactly N match, so a dump that returned nothing cannot be timed as fast. Bytes and CPU are per entry.
// dump-compare.sh runs them against iproute2 (docs/performance.md, "Flannel.Netlink: dumping routes…").
// Objects are nlbench's (i = 0..N-1): route 10.(128+i/256).(i%256).0/24 via itself dev IF onlink; route-1gw via
// 198.18.0.2 dev UNDERLAY_IF; neigh 10.a.b.0 lladdr 02:a0:00:ii:ii:ii permanent; fdb 02:a0:00:ii:ii:ii dst
// 198.18.((i+1)/256).((i+1)%256) self permanent. Only Flannel.Netlink's public API is used.
// Before timing, every code path is warmed up on extra objects (index 31000+; 64, or one full batch) that are
// removed again; the
// specs are built before the timed loop (nlbench builds its raw bytes inside it). Allocated bytes per operation in
// the timed loop and the process CPU time (user+sys) per operation go to stderr.
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using Flannel.Netlink;

var n = 1000;
var batchSize = 1024;
var mode = "single";
string? ifName = null;
var underName = "eth0";
var phases = new List<string>();
var meters = false;
var repeats = 0;
for (var a = 0; a < args.Length; a++)
{
    switch (args[a])
    {
        case "-n": n = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
        case "-m": mode = args[++a]; break;
        case "-b": batchSize = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
        case "-i": ifName = args[++a]; break;
        case "-u": underName = args[++a]; break;
        case "-M": meters = true; break;
        case "-r": repeats = int.Parse(args[++a], CultureInfo.InvariantCulture); break;
        default: phases.Add(args[a]); break;
    }
}

string[] known = ["route-add", "route-del", "neigh-add", "neigh-del", "fdb-add", "fdb-del", "route-add-1gw", "route-del-1gw"];
string[] dumps = ["route-dump-list", "route-dump-visit", "neigh-dump-list", "neigh-dump-visit", "fdb-dump-list", "fdb-dump-visit"];
if (ifName is null || phases.Count == 0 || n <= 0 || n > 32000 || batchSize < 1 || repeats < 0 || mode is not ("single" or "batch") || phases.Any(p => !known.Contains(p) && !dumps.Contains(p)))
{
    Console.Error.WriteLine("usage: nlbench-cs -n N -m single|batch [-b B] -i IFNAME [-u UNDERLAY_IF] [-M] [-r R] phase...");
    return 2;
}

if (mode == "single")
{
    batchSize = 1;
}

using var meterFactory = meters ? new BenchMeterFactory() : null;
long requestsMeasured = 0;
using var listener = new MeterListener();
if (meters)
{
    listener.InstrumentPublished = (i, l) =>
    {
        if (i.Meter.Name == "Flannel.Netlink")
        {
            l.EnableMeasurementEvents(i);
        }
    };
    listener.SetMeasurementEventCallback<long>((i, v, _, _) =>
    {
        if (i.Name == "flannel.netlink.requests")
        {
            Interlocked.Add(ref requestsMeasured, v);
        }
    });
    listener.Start();
}

await using var rtnl = RtnetlinkClient.Open(new RtnetlinkClientOptions { MeterFactory = meterFactory });
var dev = (await rtnl.Links.GetAsync(ifName))?.Index ?? throw new InvalidOperationException($"{ifName}: no such device");
var under = (await rtnl.Links.GetAsync(underName))?.Index ?? 0;
var gw1 = IPAddress.Parse("198.18.0.2");

IPAddress Ip(int i) => new([10, (byte)(128 + (i >> 8)), (byte)(i & 255), 0]);
IPAddress Under(int i) => new([198, 18, (byte)((i + 1) >> 8), (byte)((i + 1) & 255)]);
PhysicalAddress Mac(int i) => new([2, 0xa0, 0, (byte)(i >> 16), (byte)(i >> 8), (byte)i]);

// one table of objects for every phase; built once, outside the timed loop
object[] Build(string phase, int from, int count)
{
    var o = new object[count];
    for (var k = 0; k < count; k++)
    {
        var i = from + k;
        o[k] = phase switch
        {
            "route-add" => new RouteSpec(new IPNetwork(Ip(i), 24)) { Gateway = Ip(i), Device = dev, OnLink = true },
            "route-del" => new RouteSpec(new IPNetwork(Ip(i), 24)) { Device = dev },
            "route-add-1gw" => new RouteSpec(new IPNetwork(Ip(i), 24)) { Gateway = gw1, Device = under },
            "route-del-1gw" => new RouteSpec(new IPNetwork(Ip(i), 24)) { Device = under },
            "neigh-add" => new NeighborSpec(dev, Ip(i), Mac(i)),
            "neigh-del" => Ip(i),
            "fdb-add" or "fdb-del" => new FdbSpec(dev, Mac(i), Under(i)),
            _ => throw new ArgumentException(phase),
        };
    }

    return o;
}

var batch = rtnl.CreateBatch();

// the operation of a phase, chosen once per phase (no per-operation dispatch on the phase name)
Func<object, ValueTask> SingleOp(string phase) => phase switch
{
    "route-add" or "route-add-1gw" => spec => rtnl.Routes.AddAsync((RouteSpec)spec),
    "route-del" or "route-del-1gw" => spec => Deleted(rtnl.Routes.DeleteAsync((RouteSpec)spec)),
    "neigh-add" => spec => rtnl.Neighbors.AddAsync((NeighborSpec)spec),
    "neigh-del" => spec => Deleted(rtnl.Neighbors.DeleteAsync(dev, (IPAddress)spec)),
    "fdb-add" => spec => rtnl.Fdb.AddAsync((FdbSpec)spec),
    _ => spec => Deleted(rtnl.Fdb.DeleteAsync((FdbSpec)spec)),
};

static ValueTask Deleted(ValueTask<bool> pending)
{
    if (pending.IsCompletedSuccessfully)
    {
        return pending.Result ? default : throw new InvalidOperationException("object to delete not found");
    }

    return Await(pending);

    static async ValueTask Await(ValueTask<bool> p)
    {
        if (!await p) { throw new InvalidOperationException("object to delete not found"); }
    }
}

void Enqueue(string phase, object spec)
{
    switch (phase)
    {
        case "route-add" or "route-add-1gw": batch.AddRoute((RouteSpec)spec); break;
        case "route-del" or "route-del-1gw": batch.DeleteRoute((RouteSpec)spec); break;
        case "neigh-add": batch.AddNeighbor((NeighborSpec)spec); break;
        case "neigh-del": batch.DeleteNeighbor(dev, (IPAddress)spec); break;
        case "fdb-add": batch.AddFdb((FdbSpec)spec); break;
        case "fdb-del": batch.DeleteFdb((FdbSpec)spec); break;
    }
}

var singleOps = known.ToDictionary(p => p, SingleOp);

async ValueTask Run(string phase, object[] specs)
{
    if (batchSize <= 1)
    {
        var op = singleOps[phase];
        foreach (var s in specs)
        {
            await op(s);
        }

        return;
    }

    for (var i = 0; i < specs.Length;)
    {
        batch.Clear();
        var end = Math.Min(i + batchSize, specs.Length);
        for (; i < end; i++)
        {
            Enqueue(phase, specs[i]);
        }

        var r = await batch.ExecuteAsync();
        if (r.FailedCount > 0 || (phase.EndsWith("-del", StringComparison.Ordinal) || phase.EndsWith("-del-1gw", StringComparison.Ordinal)) && AnyNotDeleted(r))
        {
            r.ThrowIfAnyFailed();
            throw new InvalidOperationException($"{phase}: an object to delete was not found");
        }
    }
}

static bool AnyNotDeleted(RtnetlinkBatchResult r)
{
    for (var k = 0; k < r.Count; k++)
    {
        if (r[k].Deleted == false) { return true; }
    }

    return false;
}

static string Pair(string phase) => phase switch
{
    "route-add" => "route-del", "route-del" => "route-add",
    "route-add-1gw" => "route-del-1gw", "route-del-1gw" => "route-add-1gw",
    "neigh-add" => "neigh-del", "neigh-del" => "neigh-add",
    "fdb-add" => "fdb-del", _ => "fdb-add",
};

var dumpState = new DumpState(n, dev);
foreach (var phase in phases)
{
    if (dumps.Contains(phase))
    {
        await DumpPhase(phase);
        continue;
    }

    // warm-up: the add and the delete path, on objects outside the measured range, left as they were
    // (in batch mode with a full batch, so the batch's buffers have their steady-state size before timing)
    var warm = batchSize > 1 ? Math.Min(batchSize, n) : 64;
    var add = phase.Contains("-add", StringComparison.Ordinal) ? phase : Pair(phase);
    var del = Pair(add);
    for (var round = 0; round < 3; round++)
    {
        await Run(add, Build(add, 31000, warm));
        await Run(del, Build(del, 31000, warm));
    }

    var specs = Build(phase, 0, n);
    GC.Collect();
    using var self = Process.GetCurrentProcess();
    self.Refresh();
    var cpu0 = self.TotalProcessorTime;
    var sw = new Stopwatch();
    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    sw.Start();
    await Run(phase, specs);
    sw.Stop();
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    self.Refresh();
    var cpu = self.TotalProcessorTime - cpu0;
    var seconds = sw.Elapsed.TotalSeconds;
    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{phase} {n} {seconds:F6} {n / seconds:F0}"));
    Console.Out.Flush();
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"nlbench-cs: {phase}: {(double)allocated / n:F1} bytes allocated per operation; cpu {cpu.TotalMicroseconds / n:F2} us/op"));
}

async ValueTask DumpPhase(string phase)
{
    var routeFilter = new RouteFilter { Family = System.Net.Sockets.AddressFamily.InterNetwork, Device = dev };
    var visitor = new BenchVisitor(dumpState);

    // one dump of the table; returns how many entries were the objects nlbench made
    async ValueTask<int> DumpOnce()
    {
        switch (phase)
        {
            case "route-dump-list":
                var routes = await rtnl.Routes.ListAsync(routeFilter);
                var rc = 0;
                foreach (var r in routes)
                {
                    rc += dumpState.Matches(r) ? 1 : 0;
                }

                return rc;
            case "neigh-dump-list":
                var neighbors = await rtnl.Neighbors.ListAsync(dev, null);
                var nc = 0;
                foreach (var e in neighbors)
                {
                    nc += dumpState.Matches(e) ? 1 : 0;
                }

                return nc;
            case "fdb-dump-list":
                var fdb = await rtnl.Fdb.ListAsync(dev);
                var fc = 0;
                foreach (var e in fdb)
                {
                    fc += dumpState.Matches(e) ? 1 : 0;
                }

                return fc;
            case "route-dump-visit":
                await rtnl.Routes.VisitAsync(routeFilter, visitor);
                return visitor.Count;
            case "neigh-dump-visit":
                await rtnl.Neighbors.VisitAsync(dev, null, visitor);
                return visitor.Count;
            default:
                await rtnl.Fdb.VisitAsync(dev, visitor);
                return visitor.Count;
        }
    }

    // warm-up (JIT, buffers) and calibration: R so that the timed loop takes ~0.7 s
    var once = Stopwatch.StartNew();
    for (var w = 0; w < 3; w++)
    {
        once.Restart();
        var found = await DumpOnce();
        once.Stop();
        if (found != n)
        {
            throw new InvalidOperationException($"{phase}: {found} of the {n} expected entries found on {ifName} (run the add phase first)");
        }
    }

    var r = repeats > 0 ? repeats : (int)Math.Clamp(Math.Ceiling(0.7 / Math.Max(once.Elapsed.TotalSeconds, 1e-6)), 3, 1_000_000);
    var entries = (long)n * r;
    GC.Collect();
    using var self = Process.GetCurrentProcess();
    self.Refresh();
    var cpu0 = self.TotalProcessorTime;
    var user0 = self.UserProcessorTime;
    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    var sw = Stopwatch.StartNew();
    long matched = 0;
    for (var k = 0; k < r; k++)
    {
        matched += await DumpOnce();
    }

    sw.Stop();
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    self.Refresh();
    var cpu = self.TotalProcessorTime - cpu0;
    var user = self.UserProcessorTime - user0;
    if (matched != entries)
    {
        throw new InvalidOperationException($"{phase}: {matched} entries matched over {r} dumps, expected {entries}");
    }

    var seconds = sw.Elapsed.TotalSeconds;
    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{phase} {n} {seconds:F6} {entries / seconds:F0}"));
    Console.Out.Flush();
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"nlbench-cs: {phase}: {r} dumps of {n}; {(double)allocated / entries:F1} bytes allocated per entry; cpu {cpu.TotalMicroseconds / entries:F3} us/entry (user {user.TotalMicroseconds / entries:F3})"));
}

if (meters)
{
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"nlbench-cs: flannel.netlink.requests measured: {Volatile.Read(ref requestsMeasured)}"));
}

return 0;

/// <summary>A plain meter factory (the bench references no hosting package).</summary>
internal sealed class BenchMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options.Name, options.Version, options.Tags, this);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var m in _meters)
        {
            m.Dispose();
        }
    }
}

/// <summary>
/// The objects nlbench made, to check each dumped entry against (built before timing): for index i, route
/// 10.(128+i/256).(i%256).0/24 via itself onlink, neighbour and FDB MAC 02:a0:00:ii:ii:ii, FDB destination
/// 198.18.((i+1)/256).((i+1)%256).
/// </summary>
internal sealed class DumpState
{
    private readonly PhysicalAddress[] _macs;
    private readonly byte[][] _macBytes;
    private readonly IPAddress[] _vteps;
    private readonly byte[][] _vtepBytes;
    private readonly Dictionary<PhysicalAddress, int> _macIndex = [];

    public DumpState(int n, int device)
    {
        N = n;
        Device = device;
        _macs = new PhysicalAddress[n];
        _macBytes = new byte[n][];
        _vteps = new IPAddress[n];
        _vtepBytes = new byte[n][];
        for (var i = 0; i < n; i++)
        {
            _macBytes[i] = [2, 0xa0, 0, (byte)(i >> 16), (byte)(i >> 8), (byte)i];
            _macs[i] = new PhysicalAddress(_macBytes[i]);
            _macIndex[_macs[i]] = i;
            _vtepBytes[i] = [198, 18, (byte)((i + 1) >> 8), (byte)((i + 1) & 255)];
            _vteps[i] = new IPAddress(_vtepBytes[i]);
        }
    }

    public int N { get; }

    public int Device { get; }

    /// <summary>i for 10.(128+i/256).(i%256).0, or -1.</summary>
    public int Index(ReadOnlySpan<byte> address)
    {
        if (address.Length != 4 || address[0] != 10 || address[1] < 128 || address[3] != 0)
        {
            return -1;
        }

        var i = ((address[1] - 128) << 8) | address[2];
        return i < N ? i : -1;
    }

    public int Index(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        return address.TryWriteBytes(b, out var written) ? Index(b[..written]) : -1;
    }

    /// <summary>i for 02:a0:00:ii:ii:ii, or -1.</summary>
    public int MacIndex(ReadOnlySpan<byte> mac)
    {
        if (mac.Length != 6 || mac[0] != 2 || mac[1] != 0xa0 || mac[2] != 0)
        {
            return -1;
        }

        var i = (mac[3] << 16) | (mac[4] << 8) | mac[5];
        return i < N ? i : -1;
    }

    public bool Matches(Route r) =>
        r.OutputInterface == Device && r.OnLink && r.Destination.PrefixLength == 24 && Index(r.Destination.BaseAddress) >= 0
        && r.Destination.BaseAddress.Equals(r.Gateway);

    public bool Matches(in RouteMessage r) =>
        r.OutputInterface == Device && r.OnLink && r.DestinationLength == 24 && Index(r.Destination) >= 0 && r.Gateway.SequenceEqual(r.Destination);

    public bool Matches(Neighbor e) =>
        e.InterfaceIndex == Device && e.State == NeighborState.Permanent && Index(e.Address) is var i and >= 0 && _macs[i].Equals(e.LinkAddress);

    public bool Matches(in NeighborMessage e) =>
        e.InterfaceIndex == Device && e.State == NeighborState.Permanent && Index(e.Address) is var i and >= 0 && e.LinkAddress.SequenceEqual(_macBytes[i]);

    public bool Matches(FdbEntry e) =>
        e.InterfaceIndex == Device && e.State == NeighborState.Permanent && _macIndex.TryGetValue(e.LinkAddress, out var i) && _vteps[i].Equals(e.Destination);

    public bool Matches(in FdbMessage e) =>
        e.InterfaceIndex == Device && e.State == NeighborState.Permanent && MacIndex(e.LinkAddress) is var i and >= 0 && e.Destination.SequenceEqual(_vtepBytes[i]);
}

/// <summary>Counts the dumped entries that are nlbench's objects; reused for every dump.</summary>
internal sealed class BenchVisitor(DumpState state) : IRouteVisitor, INeighborVisitor, IFdbVisitor
{
    public int Count { get; private set; }

    public void OnDumpStarted() => Count = 0;

    public void Visit(in RouteMessage route) => Count += state.Matches(route) ? 1 : 0;

    public void Visit(in NeighborMessage neighbor) => Count += state.Matches(neighbor) ? 1 : 0;

    public void Visit(in FdbMessage entry) => Count += state.Matches(entry) ? 1 : 0;
}
