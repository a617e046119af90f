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
public partial class DataPathTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedTheory]
    [InlineData(TrafficRuleEngine.Iptables)]
    [InlineData(TrafficRuleEngine.Nftables)]
    public async Task PodTrafficIsMasqueradedOnlyWhenItLeavesTheNetwork(TrafficRuleEngine engine)
    {
        using var node = TestNamespace.Create("dpnode");
        using var pod = TestNamespace.Create("dppod");
        using var outside = TestNamespace.Create("dpout");
        using var remote = TestNamespace.Create("dprem");
        Link(node, "pod0", "10.244.5.1/24", pod, "10.244.5.2/24", "10.244.5.1");
        Link(node, "out0", "198.18.0.1/24", outside, "198.18.0.2/24", null);
        Link(node, "rem0", "10.244.9.1/24", remote, "10.244.9.2/24", null);
        Oracle.Run(node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        foreach (var receiver in new[] { outside, remote })
        {
            Oracle.Nft(receiver, """
                table ip probe {
                    chain in {
                        type filter hook input priority 0; policy accept;
                        ip saddr 198.18.0.1 udp dport 9999 counter
                        ip saddr 10.244.5.2 udp dport 9999 counter
                        ip saddr 198.18.0.1 udp dport 7777 counter
                        ip saddr 10.244.5.2 udp dport 7777 counter
                    }
                }
                """);
        }

        // Stand-in for kube-proxy: marks what it will masquerade itself, here with one more mark bit set.
        Oracle.Nft(node, """
            table ip fln-mark {
                chain pre {
                    type filter hook prerouting priority mangle; policy accept;
                    udp dport 7777 meta mark set 0x4001
                }
            }
            """);

        var rules = TrafficManager.Create(Oracle.Options(node, engine));
        await rules.InitializeAsync(Ct);
        await rules.EnsureMasqueradeRulesAsync(Oracle.Dual with { IPv6Network = null, IPv6Subnet = null }, null, Ct);
        await rules.EnsureForwardRulesAsync(Oracle.Dual with { IPv6Network = null }, Ct);

        // Pod → outside: leaves the flannel network, so it carries the node's address.
        await SendUntilCounted(pod, "198.18.0.2", 9999, outside, "198.18.0.1");
        Assert.Equal(0, Count(outside, "10.244.5.2", 9999));

        // Pod → remote pod: stays inside the network, so it keeps the pod's address.
        await SendUntilCounted(pod, "10.244.9.2", 9999, remote, "10.244.5.2");
        Assert.Equal(0, Count(remote, "198.18.0.1", 9999));

        // Marked by kube-proxy (0x4000 among other bits): flannel leaves it alone.
        await SendUntilCounted(pod, "198.18.0.2", 7777, outside, "10.244.5.2");
        Assert.Equal(0, Count(outside, "198.18.0.1", 7777));

        // Without the rules (each send is a new flow: bash picks a new source port) the source stays the pod's.
        await rules.TeardownAsync(Ct);
        await SendUntilCounted(pod, "198.18.0.2", 9999, outside, "10.244.5.2");
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
