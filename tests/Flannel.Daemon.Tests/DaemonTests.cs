using System.Globalization;
using System.Net;
using Flannel.Sqlite;
using Flannel.TestKit;
using Xunit;

namespace Flannel.Daemon.Tests;

/// <summary>
/// The built flanneld binary run as a process against simulated hosts (namespaces on a bridge underlay) with the
/// embedded store: what operators see (files, rules, health, exit codes) checked with iproute2 and the rule tools
/// inside the host namespaces.
/// </summary>
public sealed class DaemonTests : IDisposable
{
    private static readonly TimeSpan Exit = TimeSpan.FromSeconds(30);
    private readonly string _work = Directory.CreateTempSubdirectory("fln-daemon-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string NetConf(string backend, string extra = "")
    {
        var path = Path.Combine(_work, "net-conf.json");
        File.WriteAllText(path, "{\"Network\": \"10.244.0.0/16\"" + extra + ", \"Backend\": {\"Type\": \"" + backend + "\"}}");
        return path;
    }

    private string Datastore => Path.Combine(_work, "leases.db");

    private static int ExpectedMtu(string backend) => backend switch
    {
        "vxlan" => 1450,
        "udp" => 1472,
        _ => 1500,
    };

    [PrivilegedTheory]
    [InlineData("vxlan")]
    [InlineData("host-gw")]
    [InlineData("alloc")]
    [InlineData("udp")]
    public async Task Backend_across_hosts_writes_subnet_env_programs_peers_and_keeps_data_path_on_sigterm(string backend)
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [2] });
        var conf = NetConf(backend);
        var nodes = lab.Hosts.Select(h => new DaemonNode(h, _work, Datastore, conf)).ToList();
        var procs = new List<FlanneldProcess>();
        try
        {
            foreach (var n in nodes)
            {
                var p = n.Start("--ip-masq");
                procs.Add(p);
                await p.WaitReadyAsync();
            }

            var subnets = nodes.Select(n => Subnet(n.SubnetEnv("FLANNEL_SUBNET"))).ToList();
            for (var i = 0; i < nodes.Count; i++)
            {
                var s = subnets[i];
                Assert.Equal(24, s.PrefixLength);
                Assert.Equal(
                    [
                        "FLANNEL_NETWORK=10.244.0.0/16",
                        $"FLANNEL_SUBNET={Offset(s.BaseAddress, 1)}/24",
                        $"FLANNEL_MTU={ExpectedMtu(backend)}",
                        "FLANNEL_IPMASQ=true",
                    ],
                    nodes[i].SubnetEnvLines().Where(l => !l.StartsWith("FLANNEL_BACKEND_TYPE=", StringComparison.Ordinal)));
                Assert.DoesNotContain(nodes[i].SubnetEnvLines(), l => l.Contains('"', StringComparison.Ordinal));
            }

            Assert.NotEqual(subnets[0].BaseAddress, subnets[1].BaseAddress);
            var peer = subnets[1];
            var a = nodes[0];
            await WaitUntilAsync(() => RouteProgrammed(a, backend, peer, nodes[1].Host.Address), $"{backend} route to {peer} on {a.Host.Name}:\n{a.RoutesText()}");

            // Health and metrics.
            Assert.Equal((200, "flanneld is running"), Trim(await procs[0].GetAsync("/healthz")));
            Assert.Equal((200, "flanneld is ready"), Trim(await procs[0].GetAsync("/readyz")));
            var metrics = await procs[0].GetAsync("/metrics");
            Assert.Equal(200, metrics.Status);
            Assert.Contains("flannel_", metrics.Body, StringComparison.Ordinal);

            // SIGTERM: exit 0, the data path stays.
            procs[0].Terminate();
            Assert.Equal(0, procs[0].WaitForExit(Exit));
            Assert.True(File.Exists(a.SubnetFile));
            Assert.True(RouteProgrammed(a, backend, peer, nodes[1].Host.Address) || backend == "udp", a.RoutesText());
            if (backend == "vxlan")
            {
                Assert.True(a.HasLink("flannel.1"));
            }

            Assert.Contains("FLANNEL-POSTRTG", a.Namespace.Exec("iptables-save", ["-t", "nat"]).Stdout, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var p in procs)
            {
                p.Dispose();
            }

            lab.Dispose();
        }
    }

    [PrivilegedFact]
    public async Task Ip_masq_installs_the_flanneld_iptables_rules_in_the_host_namespace()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var node = new DaemonNode(lab.Hosts[0], _work, Datastore, NetConf("vxlan"));
        using var p = node.Start("--ip-masq");
        await p.WaitReadyAsync();
        var p4 = node.SubnetEnv("FLANNEL_SUBNET");
        var own = Subnet(p4).ToString();
        const string n = "10.244.0.0/16";
        var rf = node.Namespace.Exec("iptables", ["-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE", "--random-fully", "-s", "198.19.255.255/32"]).ExitCode == 0;
        node.Namespace.Exec("iptables", ["-t", "nat", "-D", "POSTROUTING", "-j", "MASQUERADE", "--random-fully", "-s", "198.19.255.255/32"]);
        var random = rf ? " --random-fully" : string.Empty;

        var nat = RuleLines(node.Namespace.Exec("iptables-save", ["-t", "nat"]).Stdout);
        const string masq = "-m comment --comment \"flanneld masq\"";
        Assert.Contains($"-A POSTROUTING {masq} -j FLANNEL-POSTRTG", nat);
        Assert.Equal(
            [
                $"-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 {masq} -j RETURN",
                $"-A FLANNEL-POSTRTG -s {own} -d {n} {masq} -j RETURN",
                $"-A FLANNEL-POSTRTG -s {n} -d {own} {masq} -j RETURN",
                $"-A FLANNEL-POSTRTG ! -s {n} -d {own} {masq} -j RETURN",
                $"-A FLANNEL-POSTRTG -s {n} ! -d 224.0.0.0/4 {masq} -j MASQUERADE{random}",
                $"-A FLANNEL-POSTRTG ! -s {n} -d {n} {masq} -j MASQUERADE{random}",
            ],
            nat.Where(l => l.StartsWith("-A FLANNEL-POSTRTG", StringComparison.Ordinal)));

        var filter = RuleLines(node.Namespace.Exec("iptables-save", ["-t", "filter"]).Stdout);
        const string fwd = "-m comment --comment \"flanneld forward\"";
        Assert.Contains($"-A FORWARD {fwd} -j FLANNEL-FWD", filter);
        Assert.Equal(
            [$"-A FLANNEL-FWD -s {n} {fwd} -j ACCEPT", $"-A FLANNEL-FWD -d {n} {fwd} -j ACCEPT"],
            filter.Where(l => l.StartsWith("-A FLANNEL-FWD", StringComparison.Ordinal)));

        // The resync puts a deleted rule back.
        node.Namespace.Exec("iptables", ["-t", "nat", "-F", "FLANNEL-POSTRTG"]);
        await WaitUntilAsync(
            () => RuleLines(node.Namespace.Exec("iptables-save", ["-t", "nat"]).Stdout).Count(l => l.StartsWith("-A FLANNEL-POSTRTG", StringComparison.Ordinal)) == 6,
            "the resync to restore FLANNEL-POSTRTG");
    }

    [PrivilegedFact]
    public async Task Ip_masq_with_nftables_installs_the_flannel_tables()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var node = new DaemonNode(lab.Hosts[0], _work, Datastore, NetConf("vxlan", ", \"EnableNFTables\": true"));
        using var p = node.Start("--ip-masq");
        await p.WaitReadyAsync();
        var own = Subnet(node.SubnetEnv("FLANNEL_SUBNET")).ToString();
        var rules = node.Namespace.Exec("nft", ["list", "table", "ip", "flannel-ipv4"]).Stdout;
        Assert.Contains("hook forward", rules, StringComparison.Ordinal);
        Assert.Contains("ip saddr 10.244.0.0/16 accept", rules, StringComparison.Ordinal);
        Assert.Contains("ip daddr 10.244.0.0/16 accept", rules, StringComparison.Ordinal);
        Assert.Contains("hook postrouting", rules, StringComparison.Ordinal);
        Assert.Contains("meta mark & 0x00004000 == 0x00004000 return", rules, StringComparison.Ordinal);
        Assert.Contains($"ip saddr {own} ip daddr 10.244.0.0/16 return", rules, StringComparison.Ordinal);
        Assert.Contains($"ip saddr 10.244.0.0/16 ip daddr {own} return", rules, StringComparison.Ordinal);
        Assert.Contains($"ip saddr != {own} ip daddr 10.244.0.0/16 return", rules, StringComparison.Ordinal);
        Assert.Contains("ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade", rules, StringComparison.Ordinal);
        Assert.Contains("ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("FLANNEL-POSTRTG", node.Namespace.Exec("iptables-save", ["-t", "nat"]).Stdout, StringComparison.Ordinal);

        // cleanup removes the nftables tables too.
        p.Terminate();
        Assert.Equal(0, p.WaitForExit(Exit));
        var (code, output) = node.Cleanup("--ip-masq");
        Assert.True(code == 0, output);
        Assert.DoesNotContain("flannel", node.Namespace.Exec("nft", ["list", "ruleset"]).Stdout, StringComparison.Ordinal);
        Assert.False(node.HasLink("flannel.1"));
    }

    [PrivilegedFact]
    public async Task Readyz_is_503_until_the_node_is_ready_while_healthz_is_200_from_the_start()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var node = new DaemonNode(lab.Hosts[0], _work, Datastore, NetConf("alloc"));

        // The health server starts before the store is opened and the lease acquired (spec §5.2 step 3), so
        // polling from process start sees /readyz 503 before 200.
        using var p = node.Start();
        var sawNotReady = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && !p.HasExited)
        {
            var (ready, body) = await p.GetAsync("/readyz");
            if (ready == 503)
            {
                Assert.Equal("flanneld is not ready yet", body.Trim());
                Assert.Equal((200, "flanneld is running"), Trim(await p.GetAsync("/healthz")));
                sawNotReady = true;
            }
            else if (ready == 200)
            {
                break;
            }

            await Task.Delay(10);
        }

        Assert.True(sawNotReady, "readyz was never observed as 503 before 200:\n" + p.Output);
        await p.WaitReadyAsync();
        Assert.Contains("flannel_node_ready 1", (await p.GetAsync("/metrics")).Body, StringComparison.Ordinal);
        Assert.Equal(404, (await p.GetAsync("/nosuch")).Status);
    }

    [PrivilegedFact]
    public async Task Restart_keeps_the_subnet_and_backend_change_is_refused_with_the_migration_message()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var conf = NetConf("vxlan");
        var node = new DaemonNode(lab.Hosts[0], _work, Datastore, conf);
        string first;
        using (var p = node.Start())
        {
            await p.WaitReadyAsync();
            first = node.SubnetEnv("FLANNEL_SUBNET");
            p.Terminate();
            Assert.Equal(0, p.WaitForExit(Exit));
        }

        using (var p = node.Start())
        {
            await p.WaitReadyAsync();
            Assert.Equal(first, node.SubnetEnv("FLANNEL_SUBNET"));
            p.Terminate();
            Assert.Equal(0, p.WaitForExit(Exit));

            // The restart finds the device in place and says so once (registration looks at it, set-up does not repeat it).
            Assert.Single(p.Output.Split('\n'), l => l.Contains("device flannel.1 reused", StringComparison.Ordinal));
        }

        NetConf("host-gw");
        var (code, output) = FlanneldProcess.Run(node.Args());
        Assert.Equal(1, code);
        var line = Assert.Single(ErrorLines(output));
        Assert.Contains("vxlan", line, StringComparison.Ordinal);
        Assert.Contains("host-gw", line, StringComparison.Ordinal);
        Assert.Contains("cleanup", line, StringComparison.Ordinal);
        Assert.Contains("--allow-backend-change", line, StringComparison.Ordinal); // the flag an operator can pass
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public async Task Cleanup_removes_device_routes_rules_subnet_env_and_lease()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [2] });
        var conf = NetConf("vxlan");
        var a = new DaemonNode(lab.Hosts[0], _work, Datastore, conf);
        var b = new DaemonNode(lab.Hosts[1], _work, Datastore, conf);
        using var pb = b.Start("--ip-masq");
        await pb.WaitReadyAsync();
        IPNetwork own;
        using (var pa = a.Start("--ip-masq"))
        {
            await pa.WaitReadyAsync();
            own = Subnet(a.SubnetEnv("FLANNEL_SUBNET"));
            var peer = Subnet(b.SubnetEnv("FLANNEL_SUBNET"));
            await WaitUntilAsync(() => RouteProgrammed(a, "vxlan", peer, b.Host.Address), "the vxlan route to the peer");
            pa.Terminate();
            Assert.Equal(0, pa.WaitForExit(Exit));
        }

        Assert.True(a.HasLink("flannel.1"));
        var (code, output) = a.Cleanup("--ip-masq");
        Assert.True(code == 0, output);

        Assert.False(a.HasLink("flannel.1"), a.Namespace.Ip("link", "show"));
        Assert.DoesNotContain("flannel", a.RoutesText(), StringComparison.Ordinal);
        Assert.DoesNotContain("10.244.", a.RoutesText(), StringComparison.Ordinal);
        Assert.Equal(string.Empty, a.Namespace.Ip("neigh", "show", "nud", "permanent").Trim());
        Assert.DoesNotContain("flannel", a.Namespace.Exec("bridge", ["fdb", "show"]).Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("flanneld", a.Namespace.Exec("iptables-save", []).Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FLANNEL", a.Namespace.Exec("iptables-save", []).Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(a.SubnetFile));

        using var registry = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = Datastore });
        var leases = (await registry.ListAsync(CancellationToken.None)).Leases;
        Assert.DoesNotContain(leases, l => l.Subnet == own);
        Assert.Single(leases);

        // The peer is untouched.
        Assert.False(pb.HasExited);
        Assert.True(b.HasLink("flannel.1"));
    }

    [PrivilegedFact]
    public async Task A_failure_after_start_exits_1_never_0()
    {
        using var lab = SimulatedHosts.Create(new SimulatedHostsOptions { HostsPerSubnet = [1] });
        var node = new DaemonNode(lab.Hosts[0], _work, Datastore, NetConf("vxlan"));
        using var p = node.Start();
        await p.WaitReadyAsync();
        var own = Subnet(node.SubnetEnv("FLANNEL_SUBNET"));

        // Another host takes over this node's subnet in the store: the node cannot keep running on it.
        using (var registry = new SqliteLeaseRegistry(new SqliteLeaseRegistryOptions { Path = Datastore }))
        {
            var lease = (await registry.ListAsync(CancellationToken.None)).Leases.Single(l => l.Subnet == own);
            var stolen = IPAddress.Parse("198.18.0.99");
            await registry.UpdateAsync(lease with { Attributes = lease.Attributes with { PublicIP = stolen } }, TimeSpan.FromHours(1), CancellationToken.None);
        }

        Assert.Equal(1, p.WaitForExit(Exit));
        var line = Assert.Single(ErrorLines(p.Output));
        Assert.Contains("198.18.0.99", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", p.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_flag_exits_2_with_one_line()
    {
        var (code, output) = FlanneldProcess.Run(["--no-such-flag"]);
        Assert.Equal(2, code);
        Assert.Contains("flag provided but not defined: -no-such-flag", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--subnet-lease-renew-margin=0", "renew margin")]
    [InlineData("--subnet-lease-renew-margin=1440", "renew margin")]
    [InlineData("--public-ip=10.0.0.300", "public-ip")]
    [InlineData("--public-ip=1.2.3", "\"1.2.3\" for -public-ip")]
    [InlineData("--public-ip=010.0.0.1", "\"010.0.0.1\" for -public-ip")]
    [InlineData("--public-ipv6=fe80::1%eth0", "public-ipv6")]
    [InlineData("--iface-can-reach=10.1", "\"10.1\" for -iface-can-reach")]
    [InlineData("--healthz-ip=127.1", "\"127.1\" for -healthz-ip")]
    [InlineData("--kube-subnet-mgr", "Kubernetes")]
    public void Bad_flag_value_exits_1_with_one_line(string flag, string mention)
    {
        var (code, output) = FlanneldProcess.Run([flag]);
        Assert.Equal(1, code);
        var line = Assert.Single(ErrorLines(output));
        Assert.Contains(mention, line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_flag_followed_by_a_flag_is_a_missing_value_not_a_strange_argument()
    {
        var (code, output) = FlanneldProcess.Run(["--iface", "--ip-masq", "--net-config-path", Path.Combine(_work, "none.json")]);
        Assert.Equal(2, code);
        Assert.Equal("flanneld: flag needs an argument: -iface (the next argument, --ip-masq, is a flag; write -iface=VALUE)", Assert.Single(ErrorLines(output)));
    }

    [Fact]
    public void Flanneld_klog_flags_are_accepted()
    {
        // A flanneld unit's -vmodule / -log_backtrace_at must not turn into exit 2 ("flag provided but not defined").
        var (code, output) = FlanneldProcess.Run(["-v=2", "-vmodule=main=3", "-log_backtrace_at=main.go:1", "--net-config-path", Path.Combine(_work, "none.json")]);
        Assert.Equal(1, code);
        Assert.Contains("--net-config-path", Assert.Single(ErrorLines(output)), StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_flag_syntax_from_the_environment_exits_2()
    {
        var (code, output) = FlanneldProcess.Run([], environment: new Dictionary<string, string> { ["FLANNELD_HEALTHZ_PORT"] = "eighty" });
        Assert.Equal(2, code);
        Assert.Contains("FLANNELD_HEALTHZ_PORT", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Healthz_port_in_use_exits_1_naming_the_flag()
    {
        using var busy = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        var (code, output) = FlanneldProcess.Run(["--healthz-ip", "127.0.0.1", "--healthz-port", port, "--net-config-path", Path.Combine(_work, "none.json")]);
        Assert.Equal(1, code);
        var line = Assert.Single(ErrorLines(output));
        Assert.Contains("healthz-port", line, StringComparison.Ordinal);
        Assert.Contains(port, line, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_prints_and_exits_0()
    {
        var (code, output) = FlanneldProcess.Run(["--version"]);
        Assert.Equal(0, code);
        Assert.StartsWith("flanneld", output, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> ConfigErrors => new()
    {
        { "missing-file", string.Empty, "--net-config-path" },
        { """{"Network": "10.244.0.0/16", "Backend": {"Type": "nosuch"}}""", string.Empty, "Backend.Type: invalid value \"nosuch\": unknown backend type; this flanneld runs ali-vpc, alloc, aws-vpc, gce, host-gw, udp, vxlan" },
        { """{"Network": "10.244.0.0/16", "Backend": {"Type": "wireguard"}}""", string.Empty, "flannel's wireguard backend is not part of Flannel.Net; this flanneld runs" },
        { """{"Network": "10.244.0.0/33", "Backend": {"Type": "vxlan"}}""", string.Empty, "10.244.0.0/33" },
        { """{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}""", "--iface=fln-nosuch", "fln-nosuch" },
        { """{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}""", string.Empty, "net-conf" },
        { """{"Netwrok": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}""", string.Empty, "Network: please define a correct Network parameter (unknown field \"Netwrok\" is ignored (did you mean \"Network\"?))" },
    };

    [PrivilegedTheory]
    [MemberData(nameof(ConfigErrors))]
    public void Config_error_exits_1_with_one_line_naming_the_problem(string netConf, string extraFlag, string mention)
    {
        using var ns = TestNamespace.Create("dcfg");
        var conf = Path.Combine(_work, "net-conf.json");
        if (netConf != "missing-file")
        {
            File.WriteAllText(conf, netConf);
        }

        List<string> args =
        [
            "--netns", ns.Name, "--net-config-path", conf, "--datastore-path", Datastore,
            "--subnet-file", Path.Combine(_work, "subnet.env"), "--state-dir", Path.Combine(_work, "state"),
        ];
        if (extraFlag.Length > 0)
        {
            args.Add(extraFlag);
        }

        var (code, output) = FlanneldProcess.Run(args);
        Assert.True(code == 1, $"exit {code}: {output}");
        var line = Assert.Single(ErrorLines(output));
        Assert.Contains(mention, line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_work, "subnet.env")));
    }

    [PrivilegedTheory]
    [InlineData("--subnet-file", "afile/subnet.env", "cannot write the subnet file {work}/afile/subnet.env: {work}/afile is a file, not a directory")]
    [InlineData("--subnet-file", "adir", "cannot read the subnet file {work}/adir: it is a directory")]
    [InlineData("--datastore-path", "adir", "--datastore-path: invalid value \"{work}/adir\": it is a directory; give a file path such as /var/lib/flannel/leases.db")]
    [InlineData("--datastore-path", "afile/leases.db", "--datastore-path: invalid value \"{work}/afile/leases.db\": cannot create its directory {work}/afile: {work}/afile is a file, not a directory")]
    public void Unusable_file_path_exits_1_with_one_line_naming_it(string flag, string relative, string expected)
    {
        using var ns = TestNamespace.Create("dpath");
        ns.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
        ns.Ip("addr", "add", "198.18.0.1/24", "dev", "eth0");
        ns.Ip("link", "set", "eth0", "up");
        File.WriteAllText(Path.Combine(_work, "afile"), "not a directory");
        Directory.CreateDirectory(Path.Combine(_work, "adir"));
        var conf = NetConf("alloc");
        var settings = new Dictionary<string, string>
        {
            ["--netns"] = ns.Name,
            ["--iface"] = "eth0",
            ["--net-config-path"] = conf,
            ["--datastore-path"] = Datastore,
            ["--subnet-file"] = Path.Combine(_work, "subnet.env"),
            ["--state-dir"] = Path.Combine(_work, "state"),
            [flag] = Path.Combine(_work, relative),
        };

        var (code, output) = FlanneldProcess.Run(settings.SelectMany(kv => new[] { kv.Key, kv.Value }));
        Assert.True(code == 1, $"exit {code}: {output}");
        var line = Assert.Single(ErrorLines(output));
        Assert.StartsWith("flanneld: " + expected.Replace("{work}", _work, StringComparison.Ordinal), line, StringComparison.Ordinal);
        Assert.DoesNotContain(expected.Replace("{work}", _work, StringComparison.Ordinal), output.Replace(line, string.Empty, StringComparison.Ordinal), StringComparison.Ordinal); // said once
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public void Missing_net_admin_is_one_line_saying_what_flanneld_needs()
    {
        using var ns = TestNamespace.Create("dcap");
        ns.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
        ns.Ip("addr", "add", "198.18.0.1/24", "dev", "eth0");
        ns.Ip("link", "set", "eth0", "up");
        string[] args =
        [
            "--bounding-set=-net_admin", "--", FlanneldProcess.BinaryPath,
            "--netns", ns.Name, "--iface", "eth0", "--net-config-path", NetConf("vxlan"), "--datastore-path", Datastore,
            "--subnet-file", Path.Combine(_work, "subnet.env"), "--state-dir", Path.Combine(_work, "state"),
        ];

        // Root without CAP_NET_ADMIN (as a unit without AmbientCapabilities would run it): the kernel says EPERM.
        using var p = FlanneldProcess.Start(args, binary: "setpriv");
        Assert.Equal(1, p.WaitForExit(TimeSpan.FromSeconds(60)));
        var line = Assert.Single(ErrorLines(p.Output));
        Assert.Contains("EPERM", line, StringComparison.Ordinal);
        Assert.EndsWith("; flanneld needs root, or CAP_NET_ADMIN and CAP_NET_RAW", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Node failed", p.Output, StringComparison.Ordinal); // said once, on the last line
        Assert.DoesNotContain("   at ", p.Output, StringComparison.Ordinal);
    }

    [PrivilegedFact]
    public async Task A_config_without_backend_or_with_unknown_fields_is_warned_about_once()
    {
        using var ns = TestNamespace.Create("dwarn");
        ns.Ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0p");
        ns.Ip("addr", "add", "198.18.0.1/24", "dev", "eth0");
        ns.Ip("link", "set", "eth0", "up");
        var conf = Path.Combine(_work, "net-conf.json");
        File.WriteAllText(conf, """{"Network": "10.244.0.0/16", "SubnetLne": 25, "BackendType": "host-gw"}""");
        var port = FlanneldProcess.FreePort();
        using var p = FlanneldProcess.Start(
            [
                "--netns", ns.Name, "--iface", "eth0", "--net-config-path", conf, "--datastore-path", Datastore,
                "--subnet-file", Path.Combine(_work, "subnet.env"), "--state-dir", Path.Combine(_work, "state"),
                "--healthz-ip", "127.0.0.1", "--healthz-port", port.ToString(CultureInfo.InvariantCulture),
            ],
            port);
        await p.WaitReadyAsync();
        p.Terminate();
        Assert.Equal(0, p.WaitForExit(TimeSpan.FromSeconds(30)));

        var lines = p.Output.Split('\n');
        Assert.Single(lines, l => l.Contains("Go flanneld would use udp", StringComparison.Ordinal));
        var lint = Assert.Single(lines, l => l.Contains("flanneld[7106]", StringComparison.Ordinal));
        Assert.Contains("unknown field \"SubnetLne\" is ignored (did you mean \"SubnetLen\"?)", lint, StringComparison.Ordinal);
        Assert.Contains("unknown field \"BackendType\" is ignored (did you mean \"Backend\": {\"Type\": …}?)", lint, StringComparison.Ordinal);
    }

    private static bool RouteProgrammed(DaemonNode node, string backend, IPNetwork peer, IPAddress peerHost)
    {
        var routes = node.RoutesText();
        var line = routes.Split('\n').FirstOrDefault(l => l.StartsWith(peer.ToString() + " ", StringComparison.Ordinal));
        return backend switch
        {
            "vxlan" => line is not null && line.Contains("dev flannel.1", StringComparison.Ordinal) && line.Contains("onlink", StringComparison.Ordinal),
            "host-gw" => line is not null && line.Contains($"via {peerHost} dev eth0", StringComparison.Ordinal),
            "udp" => routes.Contains("10.244.0.0/16 dev flannel0", StringComparison.Ordinal),
            _ => line is null, // alloc programs nothing
        };
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(100);
        }
    }

    private static List<string> RuleLines(string save) =>
        save.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToList();

    private static IEnumerable<string> ErrorLines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("flanneld:", StringComparison.Ordinal));

    private static (int, string) Trim((int Status, string Body) r) => (r.Status, r.Body.Trim());

    /// <summary>A subnet.env FLANNEL_SUBNET value (first host address/prefix) as its network.</summary>
    private static IPNetwork Subnet(string value)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var prefix = int.Parse(value[(slash + 1)..], CultureInfo.InvariantCulture);
        var b = IPAddress.Parse(value[..slash]).GetAddressBytes();
        var v = (uint)((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) & (prefix == 0 ? 0u : uint.MaxValue << (32 - prefix));
        return new IPNetwork(new IPAddress([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]), prefix);
    }

    private static IPAddress Offset(IPAddress a, int n)
    {
        var b = a.GetAddressBytes();
        var v = (uint)((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) + (uint)n;
        return new IPAddress([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
    }
}
