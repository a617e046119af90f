// nlbench-cs: the C# twin of /work/shared/bench/anchors/c/nlbench.c, with the same command line and output:
//   nlbench-cs -n N -m single|batch [-b B] -i IFNAME [-u UNDERLAY_IF] [-M] phase...
//   -M: the client gets a meter factory and a MeterListener records every Flannel.Netlink measurement (as an
//       exporter would), so the cost of the instruments is measured too; the totals go to stderr at the end.
//   phases: route-add route-del neigh-add neigh-del fdb-add fdb-del route-add-1gw route-del-1gw
//   one line per phase on stdout: <phase> <N> <seconds> <ops_per_second>
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
        default: phases.Add(args[a]); break;
    }
}

string[] known = ["route-add", "route-del", "neigh-add", "neigh-del", "fdb-add", "fdb-del", "route-add-1gw", "route-del-1gw"];
if (ifName is null || phases.Count == 0 || n <= 0 || n > 32000 || batchSize < 1 || mode is not ("single" or "batch") || phases.Any(p => !known.Contains(p)))
{
    Console.Error.WriteLine("usage: nlbench-cs -n N -m single|batch [-b B] -i IFNAME [-u UNDERLAY_IF] [-M] phase...");
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

foreach (var phase in phases)
{
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
