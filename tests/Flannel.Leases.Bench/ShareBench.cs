using System.Globalization;
using System.Net;
using System.Text;
using dotnet_etcd;
using Etcdserverpb;
using Flannel.Etcd;
using Flannel.TestKit;
using Google.Protobuf;

namespace Flannel.Leases.Bench;

/// <summary>
/// bench-share [--leases N] [--readers N] [--rounds N]
/// Allocation and live memory of several readers of one EtcdLeaseRegistry (a node runs three or four: the backend's
/// watch, the traffic rules' watch, the lease manager): N readers list the leases at once (as they do when they
/// start or resync), N watchers receive a wave of one put per lease (a renewal wave), and the live size of the N
/// snapshots held at once. The anchor, from the same run, is a raw dotnet-etcd range of the same keys, N times.
/// Allocation is GC.GetTotalAllocatedBytes(precise) around each step (process-wide; the median of the rounds).
/// </summary>
internal static class ShareBench
{
    private const string Prefix = "/coreos.com/network";

    public static async Task<int> RunAsync(string[] args)
    {
        var leases = Arg(args, "--leases", 1000);
        var readers = Arg(args, "--readers", 3);
        var rounds = Arg(args, "--rounds", 10);
        Console.WriteLine($"# etcd shared decoding bench: {leases} leases (vxlan, 24 h etcd lease each), {readers} readers, {rounds} rounds; {Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");
        await using var server = await EtcdServer.StartAsync();
        var options = new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint] };
        using var writer = new EtcdLeaseRegistry(options);
        await Parallel.ForEachAsync(Enumerable.Range(0, leases), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            await writer.CreateAsync(Make(i, "c6:d2:32:6f:8f:44"), TimeSpan.FromHours(24), ct));

        using var raw = new EtcdClient(server.Endpoint);
        var start = ByteString.CopyFromUtf8(Prefix + "/subnets/");
        var end = ByteString.CopyFromUtf8(Prefix + "/subnets0");

        // Live memory: a new registry (its connection, TTL and decode caches) with one reader's snapshot held, then
        // with N readers' snapshots held at once (readers keep their lists in caches), against none at all.
        await Task.Delay(1000); // let the seeding's connections and buffers settle
        var live0 = Settled();
        var fresh = new EtcdLeaseRegistry(options);
        var held = new List<LeaseSnapshot> { await fresh.ListAsync(default) };
        var live1 = Settled();
        for (var i = 1; i < readers; i++)
        {
            held.Add(await fresh.ListAsync(default));
        }

        var liveN = Settled();
        var distinct = held.SelectMany(s => s.Leases).Distinct(ReferenceEqualityComparer.Instance).Count();
        var total = held.Sum(s => s.Leases.Count);
        Console.WriteLine("| live memory (GC.GetTotalMemory after full collections) | retained | Lease objects |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| a new registry and 1 reader's snapshot | {Kb(live1 - live0)} | {held[0].Leases.Count} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| a new registry and {readers} readers' snapshots | {Kb(liveN - live0)} | {distinct} distinct for {total} entries |"));
        held.RemoveRange(1, held.Count - 1);
        var liveBack = Settled();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| freed when {readers - 1} of the {readers} readers drop their snapshots (what they alone retained) | {Kb(liveN - liveBack)} | |"));
        Console.WriteLine();
        GC.KeepAlive(held);
        fresh.Dispose();
        held.Clear();

        Console.WriteLine("| allocation (GC.GetTotalAllocatedBytes, process) | median | min | max | per lease and reader |");
        Console.WriteLine("|---|---|---|---|---|");
        var anchor = await Rounds(rounds, async () =>
        {
            await Task.WhenAll(Enumerable.Range(0, readers).Select(_ => raw.GetAsync(new RangeRequest { Key = start, RangeEnd = end })));
        });
        Row($"anchor: {readers} raw ranges of the {leases} keys (dotnet-etcd)", anchor, leases * readers);

        // A node's registry after its first list (the TTL of every etcd lease is cached for a minute): every later
        // snapshot of a reader (a watch start, a resync, an acquisition) costs a range plus decoding.
        using var registry = new EtcdLeaseRegistry(options);
        await registry.ListAsync(default);
        var lists = await Rounds(rounds, async () =>
        {
            await Task.WhenAll(Enumerable.Range(0, readers).Select(_ => registry.ListAsync(default).AsTask()));
        });
        Row($"{readers} readers take a snapshot of {leases} leases (warm registry)", lists, leases * readers);

        // A renewal wave: every lease re-put (same etcd lease, a new VTEP MAC), then N watchers started before the
        // wave replay it from etcd's history (they are the first to see the new versions), then N readers list them.
        var waves = new List<long>();
        var rawWaves = new List<long>();
        var afterWaves = new List<long>();
        for (var round = 0; round < rounds; round++)
        {
            var before = (await registry.ListAsync(default)).Revision;
            var mac = $"c6:d2:32:6f:{round / 256:x2}:{round % 256:x2}";
            await Parallel.ForEachAsync(Enumerable.Range(0, leases), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            {
                var lease = Make(i, mac);
                var key = registry.LeaseKey(lease.Subnet!.Value);
                var current = await raw.GetAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key) }, cancellationToken: ct);
                await raw.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(lease.Attributes.ToUtf8Json()), Lease = current.Kvs[0].Lease }, cancellationToken: ct);
            });
            GC.Collect();
            var a0 = GC.GetTotalAllocatedBytes(precise: true);
            await Task.WhenAll(Enumerable.Range(0, readers).Select(_ => ConsumeRaw(raw, start, end, before, leases)));
            rawWaves.Add(GC.GetTotalAllocatedBytes(precise: true) - a0);
            GC.Collect();
            a0 = GC.GetTotalAllocatedBytes(precise: true);
            await Task.WhenAll(Enumerable.Range(0, readers).Select(_ => Consume(registry, before, leases)));
            waves.Add(GC.GetTotalAllocatedBytes(precise: true) - a0);
            GC.Collect();
            a0 = GC.GetTotalAllocatedBytes(precise: true);
            await Task.WhenAll(Enumerable.Range(0, readers).Select(_ => registry.ListAsync(default).AsTask()));
            afterWaves.Add(GC.GetTotalAllocatedBytes(precise: true) - a0);
        }

        Row($"anchor: {readers} raw watch streams (dotnet-etcd, prev_kv) replay the wave of {leases} puts", rawWaves, leases * readers);
        Row($"{readers} watchers receive the wave of {leases} puts (the first to see the new versions)", waves, leases * readers);
        Row($"{readers} readers then take a snapshot", afterWaves, leases * readers);

        return 0;
    }

    private static long Settled()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static async Task Consume(EtcdLeaseRegistry registry, long after, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = 0;
        await foreach (var r in registry.WatchAsync(after, cts.Token))
        {
            seen += r.Events.Count;
            if (seen >= count)
            {
                return;
            }
        }
    }

    private static async Task ConsumeRaw(EtcdClient raw, ByteString start, ByteString end, long after, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = raw.GetConnection().WatchClient.Watch(cancellationToken: cts.Token);
        await call.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = start, RangeEnd = end, StartRevision = after + 1, PrevKv = true } }, cts.Token);
        var seen = 0;
        while (seen < count && await call.ResponseStream.MoveNext(cts.Token))
        {
            seen += call.ResponseStream.Current.Events.Count;
        }

        await cts.CancelAsync();
    }

    private static Lease Make(int i, string mac)
    {
        var data = System.Text.Json.JsonDocument.Parse($$"""{"VNI":1,"VtepMAC":"{{mac}}"}""").RootElement.Clone();
        return new Lease
        {
            Subnet = new IPNetwork(new IPAddress([10, (byte)(1 + (i / 256)), (byte)(i % 256), 0]), 24),
            Attributes = new LeaseAttributes { PublicIP = new IPAddress([172, 16, (byte)(i / 256), (byte)(i % 256)]), BackendType = "vxlan", BackendData = data },
        };
    }

    private static async Task<List<long>> Rounds(int rounds, Func<Task> action)
    {
        await action(); // warm-up
        var result = new List<long>();
        for (var i = 0; i < rounds; i++)
        {
            GC.Collect();
            var a0 = GC.GetTotalAllocatedBytes(precise: true);
            await action();
            result.Add(GC.GetTotalAllocatedBytes(precise: true) - a0);
        }

        return result;
    }

    private static void Row(string what, List<long> bytes, int units)
    {
        bytes.Sort();
        var median = bytes[bytes.Count / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {what} | {Kb(median)} | {Kb(bytes[0])} | {Kb(bytes[^1])} | {median / (double)units:0} B |"));
    }

    private static string Kb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:#,0} KB");

    private static int Arg(string[] args, string name, int dflt)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : dflt;
    }
}
