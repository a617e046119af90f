using System.Text.RegularExpressions;
using Flannel.TestKit;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>
/// The rules do what flannel means them to do, on real packets: a node namespace routes between a pod
/// (10.244.5.2, inside the node's subnet P = 10.244.5.0/24), a remote pod (10.244.9.2, elsewhere in N) and the
/// outside (198.18.0.2). Packets are sent with bash's /dev/udp; the receivers count them by source address with
/// nft counters in their own namespaces.
/// </summary>
[Trait("Category", "Privileged")]
public class DataPathTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedTheory]
    [InlineData(TrafficRuleEngine.Iptables)]
    [InlineData(TrafficRuleEngine.Nftables)]
    public async Task PodTrafficIsMasqueradedOnlyWhenItLeavesTheNetwork(TrafficRuleEngine engine)
    {
        using var lab = Lab.Create();
        var rules = await lab.InstallAsync(engine);

        // Pod → outside: leaves the flannel network, so it carries the node's address.
        await SendUntilCounted(lab.Pod, "198.18.0.2", 9999, lab.Outside, "198.18.0.1");
        Assert.Equal(0, Count(lab.Outside, "10.244.5.2", 9999));

        // Pod → remote pod: stays inside the network, so it keeps the pod's address.
        await SendUntilCounted(lab.Pod, "10.244.9.2", 9999, lab.Remote, "10.244.5.2");
        Assert.Equal(0, Count(lab.Remote, "198.18.0.1", 9999));

        // Marked by kube-proxy (0x4000 among other bits): flannel leaves it alone.
        await SendUntilCounted(lab.Pod, "198.18.0.2", 7777, lab.Outside, "10.244.5.2");
        Assert.Equal(0, Count(lab.Outside, "198.18.0.1", 7777));

        // Without the rules (each send is a new flow: bash picks a new source port) the source stays the pod's.
        await rules.TeardownAsync(Ct);
        await SendUntilCounted(lab.Pod, "198.18.0.2", 9999, lab.Outside, "10.244.5.2");
    }

    [PrivilegedTheory]
    [InlineData(TrafficRuleEngine.Iptables, "10.244.9.1")]
    [InlineData(TrafficRuleEngine.Nftables, "198.18.0.2")]
    public async Task OutsideToRemotePodDiffersBetweenEnginesAsInFlannel(TrafficRuleEngine engine, string arrivesFrom)
    {
        // iptables rule 7 (! -s N -d N MASQUERADE) masquerades it; flannel's nft rule 4 (saddr != P daddr N return)
        // returns first, so in nftables mode it keeps its source. Flannel.Net keeps both behaviours (docs/traffic-rules.md).
        using var lab = Lab.Create();
        lab.Outside.Ip("route", "add", "10.244.0.0/16", "via", "198.18.0.1");
        await lab.InstallAsync(engine);

        await SendUntilCounted(lab.Outside, "10.244.9.2", 9999, lab.Remote, arrivesFrom);
    }

    private static async Task SendUntilCounted(TestNamespace from, string to, int port, TestNamespace receiver, string source)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Count(receiver, source, port) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no packet from {source} to {to}:{port} arrived within 15 s");
            var (code, _, stderr) = from.Exec("bash", ["-c", $"echo flannel > /dev/udp/{to}/{port}"]);
            Assert.True(code == 0, $"sending to {to}:{port} failed: {stderr}");
            await Task.Delay(200, Ct);
        }
    }

    private static int Count(TestNamespace ns, string source, int port)
    {
        var (code, stdout, stderr) = ns.Exec("nft", ["list", "table", "ip", "probe"]);
        Assert.True(code == 0, stderr);
        var m = Regex.Match(stdout, $@"ip saddr {Regex.Escape(source)} udp dport {port} counter packets (\d+)");
        Assert.True(m.Success, stdout);
        return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Four namespaces: node (router, where the rules go), pod, remote pod and outside, with counters.</summary>
    private sealed class Lab : IDisposable
    {
        private readonly List<TestNamespace> _all = [];

        public TestNamespace Node { get; private set; } = null!;

        public TestNamespace Pod { get; private set; } = null!;

        public TestNamespace Outside { get; private set; } = null!;

        public TestNamespace Remote { get; private set; } = null!;

        public static Lab Create()
        {
            var lab = new Lab();
            try
            {
                lab.Node = lab.Add("dpnode");
                lab.Pod = lab.Add("dppod");
                lab.Outside = lab.Add("dpout");
                lab.Remote = lab.Add("dprem");
                Link(lab.Node, "pod0", "10.244.5.1/24", lab.Pod, "10.244.5.2/24", "10.244.5.1");
                Link(lab.Node, "out0", "198.18.0.1/24", lab.Outside, "198.18.0.2/24", null);
                Link(lab.Node, "rem0", "10.244.9.1/24", lab.Remote, "10.244.9.2/24", null);
                Oracle.Run(lab.Node, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward");
                foreach (var receiver in new[] { lab.Outside, lab.Remote })
                {
                    Oracle.Nft(receiver, """
                        table ip probe {
                            chain in {
                                type filter hook input priority 0; policy accept;
                                ip saddr 198.18.0.1 udp dport 9999 counter
                                ip saddr 198.18.0.2 udp dport 9999 counter
                                ip saddr 10.244.9.1 udp dport 9999 counter
                                ip saddr 10.244.5.2 udp dport 9999 counter
                                ip saddr 198.18.0.1 udp dport 7777 counter
                                ip saddr 10.244.5.2 udp dport 7777 counter
                            }
                        }
                        """);
                }

                // Stand-in for kube-proxy: marks what it will masquerade itself, here with one more mark bit set.
                Oracle.Nft(lab.Node, """
                    table ip fln-mark {
                        chain pre {
                            type filter hook prerouting priority mangle; policy accept;
                            udp dport 7777 meta mark set 0x4001
                        }
                    }
                    """);
                return lab;
            }
            catch
            {
                lab.Dispose();
                throw;
            }
        }

        /// <summary>Installs IPv4 masquerade and forward rules for N = 10.244.0.0/16, P = 10.244.5.0/24 in the node.</summary>
        public async Task<ITrafficManager> InstallAsync(TrafficRuleEngine engine)
        {
            var rules = TrafficManager.Create(Oracle.Options(Node, engine));
            await rules.InitializeAsync(Ct);
            await rules.EnsureMasqueradeRulesAsync(Oracle.Dual with { IPv6Network = null, IPv6Subnet = null }, null, Ct);
            await rules.EnsureForwardRulesAsync(Oracle.Dual with { IPv6Network = null }, Ct);
            return rules;
        }

        public void Dispose()
        {
            foreach (var ns in _all)
            {
                ns.Dispose();
            }
        }

        private TestNamespace Add(string hint)
        {
            var ns = TestNamespace.Create(hint);
            _all.Add(ns);
            return ns;
        }

        private static void Link(TestNamespace a, string aName, string aAddress, TestNamespace b, string bAddress, string? bGateway)
        {
            a.Ip("link", "add", aName, "type", "veth", "peer", "name", "eth0", "netns", b.Name);
            a.Ip("addr", "add", aAddress, "dev", aName);
            a.Ip("link", "set", aName, "up");
            b.Ip("addr", "add", bAddress, "dev", "eth0");
            b.Ip("link", "set", "eth0", "up");
            if (bGateway is not null)
            {
                b.Ip("route", "add", "default", "via", bGateway);
            }
        }
    }
}
