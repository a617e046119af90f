using System.Globalization;
using System.Net;
using System.Text.Json;
using Flannel.Sqlite;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Daemon.Tests;

/// <summary>The daemon against an embedded store that already holds 1,000 vxlan peers.</summary>
public sealed class ScaleTests : IDisposable
{
    private const int Peers = 1000;
    private readonly string _work = Directory.CreateTempSubdirectory("fln-daemon-scale-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>Writes <paramref name="count"/> vxlan peer leases (10.244.K.0/24, public IPs 198.19.x.y) into a new store.</summary>
    internal static async Task FillAsync(string datastore, string netConf, int count)
    {
        using var registry = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = datastore });
        await registry.SetNetworkConfigAsync(File.ReadAllText(netConf), CancellationToken.None);
        for (var i = 0; i < count; i++)
        {
            var k = i + 1;
            var subnet = new IPNetwork(new IPAddress([10, (byte)(128 + (k >> 8)), (byte)(k & 0xff), 0]), 24);
            var mac = string.Create(CultureInfo.InvariantCulture, $"0a:58:00:00:{k >> 8:x2}:{k & 0xff:x2}");
            var data = JsonDocument.Parse($$"""{"VNI": 1, "VtepMAC": "{{mac}}"}""").RootElement.Clone();
            var lease = new Lease
            {
                Subnet = subnet,
                Attributes = new LeaseAttributes
                {
                    PublicIP = new IPAddress([198, 19, (byte)(k >> 8), (byte)(k & 0xff)]),
                    BackendType = "vxlan",
                    BackendData = data,
                },
            };
            _ = await registry.CreateAsync(lease, TimeSpan.FromHours(24), CancellationToken.None)
                ?? throw new InvalidOperationException($"lease {subnet} already taken");
        }
    }

    [PrivilegedFact]
    public async Task A_thousand_peers_in_the_store_are_all_programmed()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var conf = Path.Combine(_work, "net-conf.json");
        File.WriteAllText(conf, """{"Network": "10.128.0.0/9", "Backend": {"Type": "vxlan"}}""");
        var store = Path.Combine(_work, "leases.db");
        await FillAsync(store, conf, Peers);
        if (Environment.GetEnvironmentVariable("FLANNEL_DAEMON_SCALE_STORE") is { Length: > 0 } keep)
        {
            // For docs/performance.md: keep a copy of the filled store to run the AOT daemon against.
            File.Copy(store, keep, overwrite: true);
        }

        var node = new DaemonNode(lab.Hosts[0], _work, store, conf);
        using var p = node.Start();
        await p.WaitReadyAsync(TimeSpan.FromSeconds(120));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        int routes;
        while ((routes = CountVxlanRoutes(node)) < Peers && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Equal(Peers, routes);
        var neighbours = node.Namespace.Ip("neigh", "show", "dev", "flannel.1").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Peers, neighbours.Length);
        var fdb = node.Namespace.Exec("bridge", ["fdb", "show", "dev", "flannel.1"]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Peers, fdb.Count(l => l.Contains("dst 198.19.", StringComparison.Ordinal)));
        p.Terminate();
        Assert.Equal(0, p.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    private static int CountVxlanRoutes(DaemonNode node) =>
        node.RoutesText().Split('\n').Count(l => l.StartsWith("10.", StringComparison.Ordinal) && l.Contains("dev flannel.1", StringComparison.Ordinal));
}
