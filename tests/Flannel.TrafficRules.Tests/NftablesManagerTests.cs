using System.Net;
using Flannel.TestKit;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>The nftables engine against the real nft and kernel, each test in its own network namespace.</summary>
[Trait("Category", "Privileged")]
public class NftablesManagerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedFact]
    public async Task EnsureInstallsFlannelsTablesAndRules()
    {
        using var ns = TestNamespace.Create("nft");
        var m = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await m.InitializeAsync(Ct);
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.Equal(Golden.NftTable6, Oracle.NftTable(ns, "ip6", "flannel-ipv6"));
        Assert.False(await m.ResyncAsync(Ct));

        // Ensuring again changes nothing visible.
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.False(await m.ResyncAsync(Ct));
    }

    [PrivilegedTheory]
    [InlineData(false, true, true, true)]
    [InlineData(true, false, true, true)]
    [InlineData(true, true, false, true)]
    [InlineData(true, true, true, false)]
    [InlineData(false, false, false, true)]
    public async Task EachToggleChangesExactlyItsRules(bool masq4, bool masq6, bool forward, bool fullyRandom)
    {
        using var ns = TestNamespace.Create("nfttog");
        var all = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await all.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await all.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        var options = Oracle.Options(ns, TrafficRuleEngine.Nftables) with
        {
            MasqueradeIPv4 = masq4,
            MasqueradeIPv6 = masq6,
            ForwardRules = forward,
            FullyRandom = fullyRandom,
        };
        var m = new NftablesTrafficManager(options);
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, Oracle.Dual, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        Assert.Equal(Expected(Golden.NftTable4, masq4, forward, fullyRandom), Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.Equal(Expected(Golden.NftTable6, masq6, forward, fullyRandom), Oracle.NftTable(ns, "ip6", "flannel-ipv6"));
        Assert.False(await m.ResyncAsync(Ct));
    }

    [PrivilegedFact]
    public async Task TwoInstancesWithTheirOwnTablesDoNotCollide()
    {
        using var ns = TestNamespace.Create("nfttwo");
        var a = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        var b = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables) with { NftablesIPv4Table = "flannel-b-ipv4", NftablesIPv6Table = "flannel-b-ipv6" });
        var bNetworks = new TrafficNetworks { Network = IPNetwork.Parse("10.50.0.0/16"), Subnet = IPNetwork.Parse("10.50.7.0/24") };
        await a.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await a.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        await b.EnsureMasqueradeRulesAsync(bNetworks, null, Ct);
        await b.EnsureForwardRulesAsync(bNetworks, Ct);

        var bTable = Oracle.NftTable(ns, "ip", "flannel-b-ipv4");
        Assert.NotNull(bTable);
        Assert.Contains("ip saddr 10.50.7.0/24 ip daddr 10.50.0.0/16 return", bTable);
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.False(await a.ResyncAsync(Ct));
        Assert.False(await b.ResyncAsync(Ct));

        await b.TeardownAsync(Ct);
        Assert.Null(Oracle.NftTable(ns, "ip", "flannel-b-ipv4"));
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.Equal(Golden.NftTable6, Oracle.NftTable(ns, "ip6", "flannel-ipv6"));
        Assert.False(await a.ResyncAsync(Ct));
    }

    [PrivilegedFact]
    public async Task ResyncRestoresRemovedRulesChainsAndTables()
    {
        using var ns = TestNamespace.Create("nftrs");
        var m = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        Oracle.Run(ns, "nft", "flush", "chain", "ip", "flannel-ipv4", "postrtg");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.False(await m.ResyncAsync(Ct));

        Oracle.Run(ns, "nft", "delete", "chain", "ip", "flannel-ipv4", "forward");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));

        Oracle.Run(ns, "nft", "delete", "table", "ip6", "flannel-ipv6");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.NftTable6, Oracle.NftTable(ns, "ip6", "flannel-ipv6"));

        // A rule someone added to our table is not ours: the table is rebuilt exactly.
        Oracle.Run(ns, "nft", "add", "rule", "ip", "flannel-ipv4", "forward", "ip", "saddr", "198.18.0.1", "drop");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.False(await m.ResyncAsync(Ct));
    }

    [PrivilegedFact]
    public async Task ResyncLoopRestoresATableRemovedWhileItRuns()
    {
        using var ns = TestNamespace.Create("nftloop");
        var m = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables) with { ResyncPeriod = TimeSpan.FromMilliseconds(200) });
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var loop = m.RunResyncAsync(stop.Token);

        Oracle.Run(ns, "nft", "delete", "table", "ip", "flannel-ipv4");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Oracle.NftTable(ns, "ip", "flannel-ipv4") is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Ct);
        }

        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(loop.IsCompletedSuccessfully);
    }

    [PrivilegedFact]
    public async Task PreviousSubnetRulesAreReplaced()
    {
        using var ns = TestNamespace.Create("nftprev");
        var old = new TrafficNetworks { Network = IPNetwork.Parse("10.9.0.0/16"), Subnet = IPNetwork.Parse("10.9.3.0/24"), IPv6Network = IPNetwork.Parse(Golden.N6), IPv6Subnet = IPNetwork.Parse("fd42:cafe:0:9::/64") };
        var before = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await before.EnsureMasqueradeRulesAsync(old, null, Ct);
        await before.EnsureForwardRulesAsync(old, Ct);

        var after = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await after.EnsureMasqueradeRulesAsync(Oracle.Dual, old, Ct);
        await after.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.Equal(Golden.NftTable6, Oracle.NftTable(ns, "ip6", "flannel-ipv6"));

        // IPv6 dropped from the network: the IPv6 table built from the previous lease goes away.
        var v4Only = new TrafficNetworks { Network = Oracle.Dual.Network, Subnet = Oracle.Dual.Subnet };
        var third = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await third.EnsureMasqueradeRulesAsync(v4Only, Oracle.Dual, Ct);
        await third.EnsureForwardRulesAsync(v4Only, Ct);
        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        var v6 = Oracle.NftTable(ns, "ip6", "flannel-ipv6");
        Assert.True(v6 is null || !v6.Contains("chain postrtg {"), string.Join('\n', v6 ?? []));
    }

    [PrivilegedFact]
    public async Task TeardownLeavesNothingOfOurs()
    {
        using var ns = TestNamespace.Create("nfttd");
        Oracle.Nft(ns, "add table ip fln-unrelated\n");
        var m = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        await m.TeardownAsync(Ct);

        Assert.Equal(["table ip fln-unrelated"], Oracle.NftTables(ns));
        Assert.False(await m.ResyncAsync(Ct));
        await m.TeardownAsync(Ct);
    }

    [PrivilegedFact]
    public async Task InitializeRemovesOnlyThisInstancesIptablesChains()
    {
        using var ns = TestNamespace.Create("nftclean");
        var ipt = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await ipt.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await ipt.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        Oracle.Run(ns, "iptables", "-t", "nat", "-N", "KUBE-POSTROUTING");
        Oracle.Run(ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "KUBE-POSTROUTING");

        var m = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await m.InitializeAsync(Ct);
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);

        var all = Oracle.AllIptables(ns);
        Assert.DoesNotContain("FLANNEL", all, StringComparison.Ordinal);
        Assert.DoesNotContain("flanneld", all, StringComparison.Ordinal);
        Assert.Equal(["-A POSTROUTING -j KUBE-POSTROUTING"], Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.NotNull(Oracle.NftTable(ns, "ip", "flannel-ipv4"));
    }

    [PrivilegedFact]
    public async Task ChainsOfOurNamesWithAnotherShapeAreReplaced()
    {
        using var ns = TestNamespace.Create("nftshape");
        Oracle.Nft(ns, "add table ip flannel-ipv4\nadd chain ip flannel-ipv4 postrtg\nadd chain ip flannel-ipv4 forward { type filter hook forward priority 10 ; }\n");
        var m = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        Assert.Equal(Golden.NftTable4, Oracle.NftTable(ns, "ip", "flannel-ipv4"));
        Assert.False(await m.ResyncAsync(Ct));
    }

    /// <summary>The golden table with the chains of switched-off groups left out (null when nothing remains).</summary>
    private static string[]? Expected(string[] golden, bool masq, bool forward, bool fullyRandom)
    {
        if (!masq && !forward)
        {
            return null;
        }

        var lines = new List<string>();
        var skipping = false;
        foreach (var line in fullyRandom ? golden : Golden.WithoutRandomFully(golden))
        {
            if (line == "chain postrtg {")
            {
                skipping = !masq;
            }
            else if (line == "chain forward {")
            {
                skipping = !forward;
            }

            if (!skipping)
            {
                lines.Add(line);
            }

            if (line == "}" && skipping)
            {
                skipping = false;
            }
        }

        return [.. lines];
    }
}
