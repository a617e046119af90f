using System.Net;
using Flannel.TestKit;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>The iptables engine against real iptables/ip6tables, each test in its own network namespace.</summary>
[Trait("Category", "Privileged")]
public class IptablesManagerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [PrivilegedTheory]
    [InlineData("nft")]
    [InlineData("legacy")]
    public async Task EnsureInstallsFlannelsExactRuleText(string flavour)
    {
        using var ns = TestNamespace.Create("ipt");
        var (options, save4, save6) = Flavour(ns, flavour);
        var m = new IptablesTrafficManager(options);
        await m.InitializeAsync(Ct);
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, save4, "nat"));
        Assert.Equal(Golden.Fwd4, Oracle.Rules(ns, save4, "filter"));
        Assert.Equal(Golden.Masq6, Oracle.Rules(ns, save6, "nat"));
        Assert.Equal(Golden.Fwd6, Oracle.Rules(ns, save6, "filter"));

        // Everything is in place, so neither a second ensure nor a resync changes anything.
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        Assert.False(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, save4, "nat"));

        // A removed rule comes back; teardown leaves nothing of ours.
        Oracle.Run(ns, save4.Replace("-save", string.Empty, StringComparison.Ordinal), "-t", "nat", "-D", "FLANNEL-POSTRTG", "2");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, save4, "nat"));
        await m.TeardownAsync(Ct);
        Assert.Empty(Oracle.Rules(ns, save4, "nat"));
        Assert.Empty(Oracle.Rules(ns, save6, "filter"));
        Assert.DoesNotContain("FLANNEL-POSTRTG", Oracle.Chains(ns, save6, "nat"));
    }

    [PrivilegedTheory]
    [InlineData(false, true, true, true)]
    [InlineData(true, false, true, true)]
    [InlineData(true, true, false, true)]
    [InlineData(true, true, true, false)]
    [InlineData(false, false, false, true)]
    public async Task EachToggleChangesExactlyItsRules(bool masq4, bool masq6, bool forward, bool fullyRandom)
    {
        using var ns = TestNamespace.Create("iptog");
        var all = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await all.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await all.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        // A restarted instance with one switch changed: only that switch's rules change.
        var options = Oracle.Options(ns, TrafficRuleEngine.Iptables) with
        {
            MasqueradeIPv4 = masq4,
            MasqueradeIPv6 = masq6,
            ForwardRules = forward,
            FullyRandom = fullyRandom,
        };
        var m = new IptablesTrafficManager(options);
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, Oracle.Dual, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        string[] Masq(string[] golden, bool on) => !on ? [] : fullyRandom ? golden : Golden.WithoutRandomFully(golden);
        Assert.Equal(Masq(Golden.Masq4, masq4), Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.Equal(Masq(Golden.Masq6, masq6), Oracle.Rules(ns, "ip6tables-save", "nat"));
        Assert.Equal(forward ? Golden.Fwd4 : Array.Empty<string>(), Oracle.Rules(ns, "iptables-save", "filter"));
        Assert.Equal(forward ? Golden.Fwd6 : Array.Empty<string>(), Oracle.Rules(ns, "ip6tables-save", "filter"));
        Assert.Equal(masq4, Oracle.Chains(ns, "iptables-save", "nat").Contains("FLANNEL-POSTRTG"));
        Assert.Equal(forward, Oracle.Chains(ns, "iptables-save", "filter").Contains("FLANNEL-FWD"));
        Assert.False(await m.ResyncAsync(Ct));
    }

    [PrivilegedFact]
    public async Task TwoInstancesWithTheirOwnChainsDoNotCollide()
    {
        using var ns = TestNamespace.Create("iptwo");
        var a = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        var b = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables) with { MasqueradeChain = "FLANNEL-B-POSTRTG", ForwardChain = "FLANNEL-B-FWD" });
        var bNetworks = new TrafficNetworks { Network = IPNetwork.Parse("10.50.0.0/16"), Subnet = IPNetwork.Parse("10.50.7.0/24") };
        await a.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await a.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        await b.EnsureMasqueradeRulesAsync(bNetworks, null, Ct);
        await b.EnsureForwardRulesAsync(bNetworks, Ct);

        var nat = Oracle.Rules(ns, "iptables-save", "nat");
        Assert.Contains("-A POSTROUTING -m comment --comment \"flanneld masq\" -j FLANNEL-B-POSTRTG", nat);
        Assert.Contains("-A FLANNEL-B-POSTRTG -s 10.50.7.0/24 -d 10.50.0.0/16 -m comment --comment \"flanneld masq\" -j RETURN", nat);
        Assert.Equal(Golden.Masq4, nat.Where(l => !l.Contains("FLANNEL-B", StringComparison.Ordinal)));
        Assert.False(await a.ResyncAsync(Ct));
        Assert.False(await b.ResyncAsync(Ct));

        await b.TeardownAsync(Ct);
        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.Equal(Golden.Fwd4, Oracle.Rules(ns, "iptables-save", "filter"));
        Assert.Equal(Golden.Masq6, Oracle.Rules(ns, "ip6tables-save", "nat"));
        Assert.False(await a.ResyncAsync(Ct));
    }

    [PrivilegedFact]
    public async Task ResyncRestoresRemovedRulesJumpsAndChains()
    {
        using var ns = TestNamespace.Create("iprs");
        var m = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        // One rule in the middle of our chain.
        Oracle.Run(ns, "iptables", "-t", "nat", "-D", "FLANNEL-POSTRTG", "3");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.False(await m.ResyncAsync(Ct));

        // The jump from FORWARD.
        Oracle.Run(ns, "iptables", "-t", "filter", "-D", "FORWARD", "1");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.Fwd4, Oracle.Rules(ns, "iptables-save", "filter"));

        // The whole IPv6 nat chain.
        Oracle.Run(ns, "ip6tables", "-t", "nat", "-D", "POSTROUTING", "1");
        Oracle.Run(ns, "ip6tables", "-t", "nat", "-F", "FLANNEL-POSTRTG");
        Oracle.Run(ns, "ip6tables", "-t", "nat", "-X", "FLANNEL-POSTRTG");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.Masq6, Oracle.Rules(ns, "ip6tables-save", "nat"));

        // A foreign rule inserted into our chain and a duplicate jump: the block is rebuilt exactly.
        Oracle.Run(ns, "iptables", "-t", "nat", "-I", "FLANNEL-POSTRTG", "1", "-s", "198.18.0.1", "-j", "RETURN");
        Oracle.Run(ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-m", "comment", "--comment", "flanneld masq", "-j", "FLANNEL-POSTRTG");
        Assert.True(await m.ResyncAsync(Ct));
        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.False(await m.ResyncAsync(Ct));
    }

    [PrivilegedFact]
    public async Task ResyncLoopRestoresAChainRemovedWhileItRuns()
    {
        using var ns = TestNamespace.Create("iploop");
        var m = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables) with { ResyncPeriod = TimeSpan.FromMilliseconds(200) });
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var loop = m.RunResyncAsync(stop.Token);

        Oracle.Run(ns, "iptables", "-t", "filter", "-D", "FORWARD", "1");
        Oracle.Run(ns, "iptables", "-t", "filter", "-F", "FLANNEL-FWD");
        Oracle.Run(ns, "iptables", "-t", "filter", "-X", "FLANNEL-FWD");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!Oracle.Rules(ns, "iptables-save", "filter").SequenceEqual(Golden.Fwd4) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Ct);
        }

        Assert.Equal(Golden.Fwd4, Oracle.Rules(ns, "iptables-save", "filter"));
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(loop.IsCompletedSuccessfully);
    }

    [PrivilegedFact]
    public async Task PreviousSubnetRulesAreReplaced()
    {
        using var ns = TestNamespace.Create("ipprev");
        var old = new TrafficNetworks { Network = IPNetwork.Parse("10.9.0.0/16"), Subnet = IPNetwork.Parse("10.9.3.0/24"), IPv6Network = IPNetwork.Parse(Golden.N6), IPv6Subnet = IPNetwork.Parse("fd42:cafe:0:9::/64") };
        var before = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await before.EnsureMasqueradeRulesAsync(old, null, Ct);
        Assert.Contains(Oracle.Rules(ns, "iptables-save", "nat"), l => l.Contains("10.9.3.0/24", StringComparison.Ordinal));

        // After a restart with a new lease (and the network changed too), only the new rules remain.
        var after = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await after.EnsureMasqueradeRulesAsync(Oracle.Dual, old, Ct);
        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.Equal(Golden.Masq6, Oracle.Rules(ns, "ip6tables-save", "nat"));

        // The network lost its IPv6 half: the IPv6 rules built from the previous lease go away.
        var v4Only = new TrafficNetworks { Network = Oracle.Dual.Network, Subnet = Oracle.Dual.Subnet };
        var third = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await third.EnsureMasqueradeRulesAsync(v4Only, Oracle.Dual, Ct);
        Assert.Equal(Golden.Masq4, Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.Empty(Oracle.Rules(ns, "ip6tables-save", "nat"));
        Assert.DoesNotContain("FLANNEL-POSTRTG", Oracle.Chains(ns, "ip6tables-save", "nat"));
    }

    [PrivilegedFact]
    public async Task TeardownLeavesNothingOfOurs()
    {
        using var ns = TestNamespace.Create("iptd");
        Oracle.Run(ns, "iptables", "-t", "nat", "-N", "SOMEONE-ELSE");
        Oracle.Run(ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "SOMEONE-ELSE");
        var m = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await m.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        await m.TeardownAsync(Ct);

        var all = Oracle.AllIptables(ns);
        Assert.DoesNotContain("FLANNEL", all, StringComparison.Ordinal);
        Assert.DoesNotContain("flanneld", all, StringComparison.Ordinal);
        Assert.Equal(["-A POSTROUTING -j SOMEONE-ELSE"], Oracle.Rules(ns, "iptables-save", "nat"));
        Assert.False(await m.ResyncAsync(Ct)); // nothing is wanted any more
        await m.TeardownAsync(Ct);             // and a second teardown is a no-op
    }

    [PrivilegedFact]
    public async Task InitializeRemovesOnlyThisInstancesNftablesTables()
    {
        using var ns = TestNamespace.Create("ipclean");
        var nft = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await nft.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await nft.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        Oracle.Nft(ns, "add table ip fln-unrelated\n");
        Assert.Contains("table ip flannel-ipv4", Oracle.NftTables(ns));

        var m = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await m.InitializeAsync(Ct);

        var tables = Oracle.NftTables(ns);
        Assert.DoesNotContain("table ip flannel-ipv4", tables);
        Assert.DoesNotContain("table ip6 flannel-ipv6", tables);
        Assert.Contains("table ip fln-unrelated", tables);
    }

    [PrivilegedFact]
    public async Task ForwardChainLeftoversAreCleanedInTheFilterTable()
    {
        // flanneld's clean-up looks for FLANNEL-FWD in the nat table ([BUG]); ours removes it from filter.
        using var ns = TestNamespace.Create("ipbug");
        var ipt = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await ipt.EnsureMasqueradeRulesAsync(Oracle.Dual, null, Ct);
        await ipt.EnsureForwardRulesAsync(Oracle.Dual, Ct);
        Oracle.Run(ns, "iptables", "-t", "filter", "-N", "UNRELATED");

        var nft = new NftablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Nftables));
        await nft.InitializeAsync(Ct);

        var all = Oracle.AllIptables(ns);
        Assert.DoesNotContain("FLANNEL", all, StringComparison.Ordinal);
        Assert.Contains("UNRELATED", Oracle.Chains(ns, "iptables-save", "filter"));
    }

    [PrivilegedFact]
    public async Task AFamilyWhoseToolsAreMissingIsSkippedOnTeardownButFailsWhenWanted()
    {
        using var ns = TestNamespace.Create("ipmiss");
        var m = new IptablesTrafficManager(Oracle.Options(ns, TrafficRuleEngine.Iptables));
        await m.EnsureForwardRulesAsync(Oracle.Dual, Ct);

        var noV6 = Oracle.Options(ns, TrafficRuleEngine.Iptables) with { Ip6tablesSavePath = "/nonexistent/ip6tables-save", Ip6tablesRestorePath = "/nonexistent/ip6tables-restore" };
        var broken = new IptablesTrafficManager(noV6);
        var ex = await Assert.ThrowsAsync<TrafficRuleException>(async () => await broken.EnsureForwardRulesAsync(Oracle.Dual, Ct));
        Assert.Contains("/nonexistent/ip6tables-save", ex.Message, StringComparison.Ordinal);

        await broken.TeardownAsync(Ct);
        Assert.Empty(Oracle.Rules(ns, "iptables-save", "filter"));
        Assert.Equal(Golden.Fwd6, Oracle.Rules(ns, "ip6tables-save", "filter"));
    }

    /// <summary>Options and oracle tools for the nf_tables (default) or the legacy flavour of iptables.</summary>
    private static (TrafficRuleOptions Options, string Save4, string Save6) Flavour(TestNamespace ns, string flavour)
    {
        var options = Oracle.Options(ns, TrafficRuleEngine.Iptables);
        if (flavour == "nft")
        {
            return (options, "iptables-save", "ip6tables-save");
        }

        return (
            options with
            {
                IptablesPath = "iptables-legacy",
                IptablesSavePath = "iptables-legacy-save",
                IptablesRestorePath = "iptables-legacy-restore",
                Ip6tablesPath = "ip6tables-legacy",
                Ip6tablesSavePath = "ip6tables-legacy-save",
                Ip6tablesRestorePath = "ip6tables-legacy-restore",
            },
            "iptables-legacy-save",
            "ip6tables-legacy-save");
    }
}
