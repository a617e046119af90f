using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using dotnet_etcd;
using Etcdserverpb;
using Flannel.Etcd;
using Flannel.Sqlite;
using Flannel.TestKit;
using Google.Protobuf;

namespace Flannel.Leases.Bench;

/// <summary>
/// bench [--leases N] [--acquires N] [--samples N] [--store sqlite|etcd|all]
/// Measures, per store, with N existing leases: acquire latency through LeaseManager (cold: a new registry, as a
/// starting daemon; warm: the same registry again) and watch propagation latency (write → event at a watcher).
/// Anchors from the same run: for etcd, a raw range of the whole subnets prefix and a raw put → watch event with
/// dotnet-etcd directly (no registry); for SQLite, a raw SELECT of the leases table.
/// </summary>
internal static class Bench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var leases = Arg(args, "--leases", 5000);
        var acquires = Arg(args, "--acquires", 30);
        var samples = Arg(args, "--samples", 200);
        var store = ArgS(args, "--store", "all");
        Console.WriteLine($"# lease store bench: {leases} existing leases, {acquires} acquisitions, {samples} watch samples; {Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.WriteLine("| store | measurement | p50 | p99 | mean | n |");
        Console.WriteLine("|---|---|---|---|---|---|");
        if (store is "all" or "sqlite")
        {
            await SqliteAsync(leases, acquires, samples, TimeSpan.FromMilliseconds(200));
            await SqliteAsync(leases, acquires, samples, TimeSpan.FromMilliseconds(20), seedAndAcquire: false);
        }

        if (store is "all" or "etcd")
        {
            await EtcdAsync(leases, acquires, samples);
        }

        return 0;
    }

    private const string ConfigJson = """{"Network":"10.0.0.0/8","SubnetLen":24,"Backend":{"Type":"vxlan"}}""";

    private static async Task SqliteAsync(int leases, int acquires, int samples, TimeSpan poll, bool seedAndAcquire = true)
    {
        var dir = Directory.CreateTempSubdirectory("fln-bench-").FullName;
        try
        {
            var options = new SqliteLeaseRegistryOptions { Path = Path.Combine(dir, "leases.db"), PollInterval = poll };
            using var registry = new SqliteLeaseRegistry(options);
            await registry.SetNetworkConfigAsync(ConfigJson, default);
            if (seedAndAcquire)
            {
                var sw = Stopwatch.StartNew();
                await Seed(registry, leases);
                Row("sqlite", $"seed {leases} leases (one transaction each)", [sw.Elapsed.TotalMilliseconds / leases], "per lease");

                Row("sqlite", $"anchor: raw SELECT of {leases} rows", Time(acquires, () =>
                {
                    using var conn = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={options.Path}");
                    conn.Open();
                    using var cmd = conn.CreateCommand();
                    cmd.CommandText = "SELECT key, value, expires_ms, mod_revision FROM leases";
                    using var r = cmd.ExecuteReader();
                    while (r.Read())
                    {
                        _ = r.GetString(1);
                    }

                    return Task.CompletedTask;
                }));
                Row("sqlite", $"ListAsync of {leases} leases", await TimeAsync(acquires, async () => await registry.ListAsync(default)));
                Row("sqlite", $"acquire with {leases} leases (LeaseManager)", await AcquireTimes(() => registry, acquires, 1));
            }

            Row("sqlite", $"watch: write → event (poll {poll.TotalMilliseconds:0} ms)", await WatchLatency(registry, samples, 2));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task EtcdAsync(int leases, int acquires, int samples)
    {
        await using var server = await EtcdServer.StartAsync();
        var options = new EtcdLeaseRegistryOptions { Endpoints = [server.Endpoint] };
        using var registry = new EtcdLeaseRegistry(options);
        await registry.SetNetworkConfigAsync(ConfigJson, default);
        var sw = Stopwatch.StartNew();
        await Seed(registry, leases, parallel: 16);
        Row("etcd", $"seed {leases} leases (grant + create txn each, 16 in parallel)", [sw.Elapsed.TotalMilliseconds / leases], "per lease");

        using var raw = new EtcdClient(server.Endpoint);
        var prefix = ByteString.CopyFromUtf8("/coreos.com/network/subnets/");
        var end = ByteString.CopyFromUtf8("/coreos.com/network/subnets0");
        Row("etcd", $"anchor: raw range of {leases} keys (dotnet-etcd)", await TimeAsync(acquires, async () => await raw.GetAsync(new RangeRequest { Key = prefix, RangeEnd = end })));
        Row("etcd", $"ListAsync of {leases} leases, cold (TTL of each etcd lease fetched)", await TimeAsync(Math.Min(acquires, 5), async () =>
        {
            using var fresh = new EtcdLeaseRegistry(options);
            await fresh.ListAsync(default);
        }));
        Row("etcd", $"ListAsync of {leases} leases, warm (TTL cache)", await TimeAsync(acquires, async () => await registry.ListAsync(default)));
        Row("etcd", $"acquire with {leases} leases, cold registry (daemon start)", await AcquireTimes(() => new EtcdLeaseRegistry(options), Math.Min(acquires, 5), 100));
        Row("etcd", $"acquire with {leases} leases, warm registry", await AcquireTimes(() => registry, acquires, 200));

        // Anchor: raw put → watch event through dotnet-etcd's own watch, no registry.
        var anchor = new List<double>();
        var gotIt = new SemaphoreSlim(0);
        var watchKey = "/bench-anchor/key";
        var cts = new CancellationTokenSource();
        var watchTask = raw.WatchAsync(watchKey, (WatchResponse _) => gotIt.Release(), cancellationToken: cts.Token);
        await Task.Delay(500);
        for (var i = 0; i < samples; i++)
        {
            var t = Stopwatch.StartNew();
            await raw.PutAsync(watchKey, i.ToString(CultureInfo.InvariantCulture));
            await gotIt.WaitAsync(TimeSpan.FromSeconds(10));
            anchor.Add(t.Elapsed.TotalMilliseconds);
        }

        await cts.CancelAsync();
        Row("etcd", "anchor: raw put → watch event (dotnet-etcd)", anchor);
        Row("etcd", "watch: renewal → event (EtcdLeaseRegistry.UpdateAsync: grant + put, → watcher)", await WatchLatency(registry, samples, 3));
        Row("etcd", "watch: raw put with a fresh 24 h etcd lease, as flanneld writes → EtcdLeaseRegistry event", await RawPutLatency(registry, raw, samples, withLease: true));
        Row("etcd", "watch: raw put without lease (reservation) → EtcdLeaseRegistry event", await RawPutLatency(registry, raw, samples, withLease: false));
    }

    private static async Task<List<double>> RawPutLatency(ILeaseRegistry registry, EtcdClient raw, int samples, bool withLease)
    {
        var start = await registry.ListAsync(default);
        using var cts = new CancellationTokenSource();
        var arrivals = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        var pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var r in registry.WatchAsync(start.Revision, cts.Token))
                {
                    foreach (var e in r.Events)
                    {
                        arrivals[$"{e.Lease.Attributes.BackendType}"] = Stopwatch.GetTimestamp();
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        await Task.Delay(300);
        var times = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            var tag = (withLease ? "lease" : "plain") + i.ToString(CultureInfo.InvariantCulture);
            var value = Encoding.UTF8.GetBytes("{\"PublicIP\":\"198.18.9.8\",\"PublicIPv6\":null,\"BackendType\":\"" + tag + "\"}");
            var lease = withLease ? (await raw.LeaseGrantAsync(new LeaseGrantRequest { TTL = 86400 })).ID : 0;
            var t0 = Stopwatch.GetTimestamp();
            await raw.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("/coreos.com/network/subnets/10.250.9.0-24"), Value = ByteString.CopyFrom(value), Lease = lease });
            var deadline = Stopwatch.StartNew();
            while (!arrivals.ContainsKey(tag))
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(10))
                {
                    throw new TimeoutException($"no watch event for {tag}");
                }

                await Task.Delay(1);
            }

            times.Add(Stopwatch.GetElapsedTime(t0, arrivals[tag]).TotalMilliseconds);
            await Task.Delay(Random.Shared.Next(0, 20));
        }

        await cts.CancelAsync();
        await pump;
        return times;
    }

    private static async Task Seed(ILeaseRegistry registry, int count, int parallel = 1)
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
        {
            var subnet = new IPNetwork(new IPAddress([10, (byte)(1 + (i / 256)), (byte)(i % 256), 0]), 24);
            var attrs = new LeaseAttributes { PublicIP = new IPAddress([172, 16, (byte)(i / 256), (byte)(i % 256)]), BackendType = "host-gw" };
            await registry.CreateAsync(new Lease { Subnet = subnet, Attributes = attrs }, TimeSpan.FromHours(24), ct);
        });
    }

    private static async Task<List<double>> AcquireTimes(Func<ILeaseRegistry> registryFactory, int n, int ipBase)
    {
        var times = new List<double>();
        for (var i = 0; i < n; i++)
        {
            var registry = registryFactory();
            var t = Stopwatch.StartNew();
            var manager = new LeaseManager(registry);
            await manager.AcquireLeaseAsync(new LeaseRequest(new LeaseAttributes { PublicIP = new IPAddress([198, 18, (byte)ipBase, (byte)i]), BackendType = "vxlan" }), default);
            times.Add(t.Elapsed.TotalMilliseconds);
        }

        return times;
    }

    private static async Task<List<double>> WatchLatency(ILeaseRegistry registry, int samples, int third)
    {
        var start = await registry.ListAsync(default);
        using var cts = new CancellationTokenSource();
        var arrivals = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        var signal = new SemaphoreSlim(0);
        var pump = Task.Run(async () =>
        {
            try
            {
                await foreach (var r in registry.WatchAsync(start.Revision, cts.Token))
                {
                    foreach (var e in r.Events)
                    {
                        arrivals[$"{e.Lease.Subnet} {e.Lease.Attributes.BackendType}"] = Stopwatch.GetTimestamp();
                        signal.Release();
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        await Task.Delay(300);
        var times = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            var subnet = new IPNetwork(new IPAddress([10, 250, (byte)third, 0]), 24);
            var tag = "bench" + i.ToString(CultureInfo.InvariantCulture);
            var t0 = Stopwatch.GetTimestamp();
            await registry.UpdateAsync(new Lease { Subnet = subnet, Attributes = new LeaseAttributes { PublicIP = IPAddress.Parse("198.18.9.9"), BackendType = tag } }, TimeSpan.FromHours(1), default);
            var key = $"{subnet} {tag}";
            var deadline = Stopwatch.StartNew();
            while (!arrivals.ContainsKey(key))
            {
                if (!await signal.WaitAsync(TimeSpan.FromSeconds(10)) && deadline.Elapsed > TimeSpan.FromSeconds(10))
                {
                    throw new TimeoutException($"no watch event for {key}");
                }
            }

            times.Add(Stopwatch.GetElapsedTime(t0, arrivals[key]).TotalMilliseconds);
            await Task.Delay(Random.Shared.Next(0, 250)); // decorrelate from the poll phase
        }

        await cts.CancelAsync();
        await pump;
        return times;
    }

    private static async Task<List<double>> TimeAsync(int n, Func<Task> action)
    {
        await action(); // warm-up
        var times = new List<double>();
        for (var i = 0; i < n; i++)
        {
            var t = Stopwatch.StartNew();
            await action();
            times.Add(t.Elapsed.TotalMilliseconds);
        }

        return times;
    }

    private static List<double> Time(int n, Func<Task> action) => TimeAsync(n, action).GetAwaiter().GetResult();

    private static void Row(string store, string what, List<double> ms, string? unit = null)
    {
        ms.Sort();
        var p50 = ms[(int)Math.Floor((ms.Count - 1) * 0.5)];
        var p99 = ms[(int)Math.Floor((ms.Count - 1) * 0.99)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {store} | {what} | {p50:0.00} ms | {p99:0.00} ms | {ms.Average():0.00} ms{(unit is null ? string.Empty : " " + unit)} | {ms.Count} |"));
    }

    private static int Arg(string[] args, string name, int dflt)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : dflt;
    }

    private static string ArgS(string[] args, string name, string dflt)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : dflt;
    }
}
