using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Daemon.Tests;

/// <summary>
/// The daemon against a real etcd holding what Go flanneld nodes write (spec §2.2, §4.1, §5.4): leases are written
/// byte for byte as Go's encoding/json writes them (and as operators hand-write them), read back through etcd's own
/// JSON gateway, and checked against the spec rather than against our own writer.
/// </summary>
public sealed class EtcdInteropTests : IDisposable
{
    private const string Prefix = "/coreos.com/network";
    private readonly string _work = Directory.CreateTempSubdirectory("fln-detcd-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>A host namespace with eth0 at 198.18.7.1/24 and fd00:198:18:7::1/64 (the peers' public IPs are neighbours on it).</summary>
    private static TestNamespace Host()
    {
        var ns = TestNamespace.Create("detcd");
        ns.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
        ns.Ip("addr", "add", "198.18.7.1/24", "dev", "eth0");
        ns.Ip("addr", "add", "fd00:198:18:7::1/64", "dev", "eth0", "nodad");
        ns.Ip("link", "set", "eth0", "up");
        ns.Ip("link", "set", "eth0p", "up");
        return ns;
    }

    private List<string> Args(TestNamespace ns, EtcdServer etcd, int port, params string[] extra) =>
    [
        "--etcd-endpoints", etcd.Endpoint,
        "--netns", ns.Name,
        "--iface", "eth0",
        "--subnet-file", Path.Combine(_work, "run", "subnet.env"),
        "--state-dir", Path.Combine(_work, "state"),
        "--healthz-ip", "127.0.0.1",
        "--healthz-port", port.ToString(CultureInfo.InvariantCulture),
        .. extra,
    ];

    [PrivilegedFact]
    public async Task Go_written_leases_are_programmed_and_the_own_lease_and_subnet_env_are_flannels()
    {
        await using var etcd = await EtcdServer.StartAsync();
        using var ns = Host();
        await Put(etcd, Prefix + "/config", """{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fc00:5::/48","Backend":{"Type":"vxlan"}}""");
        var ttl = await etcd.GrantAsync(86400);

        // As Go flanneld writes them (spec §2.2 examples).
        await Put(etcd, Prefix + "/subnets/10.5.34.0-24", """{"PublicIP":"198.18.7.2","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}""", ttl);
        await Put(etcd, Prefix + "/subnets/10.5.35.0-24&fc00:5:0:23::-64", """{"PublicIP":"198.18.7.3","PublicIPv6":"fd00:198:18:7::3","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:45"},"BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:46"}}""", ttl);

        // Odd but valid for Go: any-case field names, unknown fields, spaces, an upper-case MAC, net.ParseMAC's other
        // forms, no PublicIPv6 at all, a reservation (no etcd lease).
        await Put(etcd, Prefix + "/subnets/10.5.36.0-24", """{ "publicip": "198.18.7.4", "backendtype":"vxlan", "backenddata": {"vni": 1, "vtepmac": "C6:D2:32:6F:8F:47", "Extra": true}, "Unknown": 5 }""", ttl);
        await Put(etcd, Prefix + "/subnets/10.5.37.0-24", """{"PublicIP":"198.18.7.5","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6-d2-32-6f-8f-48"}}""", ttl);
        await Put(etcd, Prefix + "/subnets/10.5.38.0-24", """{"PublicIP":"198.18.7.6","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:49"}}""");
        await Put(etcd, Prefix + "/subnets/10.5.42.0-24", """{"PublicIP":"198.18.7.10","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6d2.326f.8f4a"}}""", ttl);

        // Other backends' leases (ignored by vxlan) and bad records (skipped).
        await Put(etcd, Prefix + "/subnets/10.5.39.0-24", """{"PublicIP":"198.18.7.7","PublicIPv6":null,"BackendType":"host-gw"}""", ttl);
        await Put(etcd, Prefix + "/subnets/10.5.40.0-24", """{"PublicIP":"198.18.7.8","PublicIPv6":null}""", ttl);
        await Put(etcd, Prefix + "/subnets/garbage", """{"PublicIP":"198.18.7.9"}""", ttl);
        await Put(etcd, Prefix + "/subnets/10.5.41.0-24", "not json", ttl);

        var peers = await etcd.KeysAsync(Prefix + "/subnets/");
        var port = FlanneldProcess.FreePort();
        using var daemon = FlanneldProcess.Start(Args(ns, etcd, port, "--ip-masq"), port);
        await daemon.WaitReadyAsync();

        var expectV4 = new Dictionary<string, (string Mac, string Dst)>
        {
            ["10.5.34.0"] = ("c6:d2:32:6f:8f:44", "198.18.7.2"),
            ["10.5.35.0"] = ("c6:d2:32:6f:8f:45", "198.18.7.3"),
            ["10.5.36.0"] = ("c6:d2:32:6f:8f:47", "198.18.7.4"),
            ["10.5.37.0"] = ("c6:d2:32:6f:8f:48", "198.18.7.5"),
            ["10.5.38.0"] = ("c6:d2:32:6f:8f:49", "198.18.7.6"),
            ["10.5.42.0"] = ("c6:d2:32:6f:8f:4a", "198.18.7.10"),
        };
        await WaitUntilAsync(() => Neighbours(ns, "flannel.1").Count == expectV4.Count, () => $"6 IPv4 peers programmed; have {string.Join(", ", Neighbours(ns, "flannel.1"))}\n{daemon.Output}");

        Assert.Equal(expectV4.ToDictionary(kv => kv.Key, kv => kv.Value.Mac), Neighbours(ns, "flannel.1"));
        Assert.Equal(expectV4.Values.ToDictionary(v => v.Mac, v => v.Dst), Fdb(ns, "flannel.1"));
        Assert.Equal(expectV4.Keys.Select(a => $"{a}/24 via {a} onlink").Order(), Routes(ns, "flannel.1", "-4").Order());
        Assert.Equal(new Dictionary<string, string> { ["fc00:5:0:23::"] = "c6:d2:32:6f:8f:46" }, Neighbours(ns, "flannel-v6.1"));
        Assert.Equal(new Dictionary<string, string> { ["c6:d2:32:6f:8f:46"] = "fd00:198:18:7::3" }, Fdb(ns, "flannel-v6.1"));
        Assert.Equal(["fc00:5:0:23::/64 via fc00:5:0:23:: onlink"], Routes(ns, "flannel-v6.1", "-6"));

        // Our own lease, as Go flanneld would write it: dual-stack key, value fields in Go's order, a 24 h etcd lease.
        var own = (await etcd.KeysAsync(Prefix + "/subnets/")).Except(peers).Single();
        var m = Regex.Match(own, @"^/coreos\.com/network/subnets/(10\.5\.(\d+)\.0)-24&(fc00:5:0:[0-9a-f]{1,4}::)-64$");
        Assert.True(m.Success, own);
        var (value, leaseId, _) = (await etcd.GetRawAsync(own))!.Value;
        var mac4 = Mac(ns, "flannel.1");
        var mac6 = Mac(ns, "flannel-v6.1");
        Assert.Equal(
            $$$"""{"PublicIP":"198.18.7.1","PublicIPv6":"fd00:198:18:7::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"{{{mac4}}}"},"BackendV6Data":{"VNI":1,"VtepMAC":"{{{mac6}}}"}}""",
            Encoding.UTF8.GetString(value));
        Assert.NotEqual(0, leaseId);
        Assert.Equal(86400, await etcd.GrantedTtlAsync(leaseId));

        // subnet.env: flannel's six lines in flannel's order (spec §5.4), then the one documented extension. The MTU is
        // the IPv6 underlay's (1500 - 70), where flanneld writes 1450 for both families (issue #1781; docs/backends/vxlan.md).
        var env = File.ReadAllText(Path.Combine(_work, "run", "subnet.env"));
        Assert.Equal(
            $"FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET={m.Groups[1].Value[..^1]}1/24\nFLANNEL_IPV6_NETWORK=fc00:5::/48\nFLANNEL_IPV6_SUBNET={m.Groups[3].Value}1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\nFLANNEL_BACKEND_TYPE=vxlan\n",
            env);

        // The bad records were reported, each once, naming the key.
        Assert.Single(Regex.Matches(daemon.Output, @"warn: .*Skipping etcd key /coreos\.com/network/subnets/garbage:"));
        Assert.Single(Regex.Matches(daemon.Output, @"warn: .*Skipping etcd key /coreos\.com/network/subnets/10\.5\.41\.0-24: lease value is not valid JSON at line 1"));

        daemon.Terminate();
        Assert.Equal(0, daemon.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [PrivilegedTheory]
    [InlineData("vxlan", """{"PublicIP":"198.18.7.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"{mac}"}}""", 1450)]
    [InlineData("host-gw", """{"PublicIP":"198.18.7.1","PublicIPv6":null,"BackendType":"host-gw"}""", 1500)]
    [InlineData("udp", """{"PublicIP":"198.18.7.1","PublicIPv6":null}""", 1472)]
    [InlineData("alloc", """{"PublicIP":"198.18.7.1","PublicIPv6":null}""", 1500)]
    public async Task The_own_lease_and_subnet_env_are_byte_for_byte_flannels_per_backend(string backend, string value, int mtu)
    {
        // Spec §2.2 (values: udp/alloc write no type), §2.3 (24 h TTL), §2.2 key, §5.4 (subnet.env lines and MTU per §4).
        await using var etcd = await EtcdServer.StartAsync();
        using var ns = Host();
        await Put(etcd, Prefix + "/config", $$$"""{"Network":"10.5.0.0/16","Backend":{"Type":"{{{backend}}}"}}""");
        var port = FlanneldProcess.FreePort();
        using var daemon = FlanneldProcess.Start(Args(ns, etcd, port), port);
        await daemon.WaitReadyAsync();

        var key = Assert.Single(await etcd.KeysAsync(Prefix + "/subnets/"));
        var m = Regex.Match(key, @"^/coreos\.com/network/subnets/10\.5\.(\d+)\.0-24$");
        Assert.True(m.Success, key);
        var (stored, leaseId, _) = (await etcd.GetRawAsync(key))!.Value;
        Assert.Equal(value.Replace("{mac}", backend == "vxlan" ? Mac(ns, "flannel.1") : string.Empty, StringComparison.Ordinal), Encoding.UTF8.GetString(stored));
        Assert.Equal(86400, await etcd.GrantedTtlAsync(leaseId));
        Assert.Equal(
            $"FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.{m.Groups[1].Value}.1/24\nFLANNEL_MTU={mtu}\nFLANNEL_IPMASQ=false\nFLANNEL_BACKEND_TYPE={backend}\n",
            File.ReadAllText(Path.Combine(_work, "run", "subnet.env")));

        daemon.Terminate();
        Assert.Equal(0, daemon.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [PrivilegedFact]
    public async Task A_bad_config_in_etcd_is_one_line_naming_the_key()
    {
        await using var etcd = await EtcdServer.StartAsync();
        using var ns = Host();
        await Put(etcd, Prefix + "/config", """{"Network":"10.5.0.0/16","SubnetLen":40,"Backend":{"Type":"vxlan"}}""");
        var port = FlanneldProcess.FreePort();
        var (code, output) = FlanneldProcess.Run(Args(ns, etcd, port));
        Assert.True(code == 1, $"exit {code}: {output}");
        var line = Assert.Single(output.Split('\n'), l => l.StartsWith("flanneld:", StringComparison.Ordinal));
        Assert.Equal("flanneld: etcd key /coreos.com/network/config: SubnetLen: invalid value \"40\": SubnetLen must be less than /31", line.TrimEnd());
    }

    [PrivilegedFact]
    public async Task A_missing_config_in_etcd_is_retried_with_the_key_to_write()
    {
        await using var etcd = await EtcdServer.StartAsync();
        using var ns = Host();
        var port = FlanneldProcess.FreePort();
        using var daemon = FlanneldProcess.Start(Args(ns, etcd, port, "--etcd-prefix", "/other/network/"), port);
        await WaitUntilAsync(() => daemon.Output.Contains("etcd has no key /other/network/config; put the network configuration there", StringComparison.Ordinal), () => daemon.Output);
        Assert.Contains("etcdctl put /other/network/config '{\"Network\"", daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("LeaseManagerOptions", daemon.Output, StringComparison.Ordinal);

        // Writing it lets the daemon go on, as flanneld does.
        await Put(etcd, "/other/network/config", """{"Network":"10.6.0.0/16","Backend":{"Type":"host-gw"}}""");
        await daemon.WaitReadyAsync();
        daemon.Terminate();
        Assert.Equal(0, daemon.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData("--etcd-certfile=/fln-nosuch/client.pem", "--etcd-keyfile=/fln-nosuch/client-key.pem", "flanneld: --etcd-certfile: invalid value \"/fln-nosuch/client.pem\": cannot load the etcd TLS client certificate and key: no such file")]
    [InlineData("--etcd-cafile=/fln-nosuch/ca.pem", "--etcd-prefix=/coreos.com/network", "flanneld: --etcd-cafile: invalid value \"/fln-nosuch/ca.pem\": cannot load the etcd TLS CA certificate: no such file")]
    [InlineData("--etcd-certfile=/fln-nosuch/client.pem", "--etcd-prefix=/coreos.com/network", "flanneld: --etcd-keyfile: a client certificate needs both --etcd-certfile and --etcd-keyfile")]
    public void Etcd_tls_file_errors_name_the_flag_and_the_file(string flag1, string flag2, string expected)
    {
        // Before any connection: flanneld's flags, not EtcdLeaseRegistryOptions' property names, and only the bad file.
        var (code, output) = FlanneldProcess.Run(["--etcd-endpoints", "https://127.0.0.1:1", flag1, flag2]);
        Assert.True(code == 1, $"exit {code}: {output}");
        Assert.Equal(expected, Assert.Single(output.Split('\n'), l => l.StartsWith("flanneld:", StringComparison.Ordinal)).TrimEnd());
    }

    private static Task<long> Put(EtcdServer etcd, string key, string value, long lease = 0) => etcd.PutRawAsync(key, Encoding.UTF8.GetBytes(value), lease);

    private static Dictionary<string, string> Neighbours(TestNamespace ns, string dev) =>
        ns.IpJson("neigh", "show", "dev", dev, "nud", "permanent").EnumerateArray()
            .ToDictionary(n => n.GetProperty("dst").GetString()!, n => n.GetProperty("lladdr").GetString()!);

    private static Dictionary<string, string> Fdb(TestNamespace ns, string dev) =>
        ns.BridgeJson("fdb", "show", "dev", dev).EnumerateArray()
            .Where(f => f.TryGetProperty("dst", out _))
            .ToDictionary(f => f.GetProperty("mac").GetString()!, f => f.GetProperty("dst").GetString()!);

    private static List<string> Routes(TestNamespace ns, string dev, string family) =>
        ns.IpJson(family, "route", "show", "dev", dev).EnumerateArray()
            .Where(r => r.TryGetProperty("gateway", out _))
            .Select(r => $"{Dst(r)} via {r.GetProperty("gateway").GetString()}{(r.TryGetProperty("flags", out var f) && f.EnumerateArray().Any(x => x.GetString() == "onlink") ? " onlink" : string.Empty)}")
            .ToList();

    private static string Dst(JsonElement route) => route.GetProperty("dst").GetString()!;

    private static string Mac(TestNamespace ns, string dev) => ns.IpJson("link", "show", "dev", dev)[0].GetProperty("address").GetString()!;

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what()}");
            }

            await Task.Delay(100);
        }
    }
}
