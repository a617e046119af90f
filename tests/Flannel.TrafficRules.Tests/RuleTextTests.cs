using System.Net;
using Xunit;

namespace Flannel.TrafficRules.Tests;

/// <summary>Rule text generation against hand-written golden strings (no tools run).</summary>
public class RuleTextTests
{
    [Fact]
    public void IptablesMasqueradeBlockIsFlannelsText()
    {
        var block = IptablesRules.Masquerade("FLANNEL-POSTRTG", IPNetwork.Parse(Golden.N4), IPNetwork.Parse(Golden.P4), randomFully: true);
        Assert.Equal(Golden.Masq4, block.SaveLines());
        Assert.Equal("nat", block.Table);
        Assert.Equal("POSTROUTING", block.Hook);
    }

    [Fact]
    public void Ip6tablesMasqueradeBlockUsesV6ValuesAndMulticastRange()
    {
        var block = IptablesRules.Masquerade("FLANNEL-POSTRTG", IPNetwork.Parse(Golden.N6), IPNetwork.Parse(Golden.P6), randomFully: true);
        Assert.Equal(Golden.Masq6, block.SaveLines());
    }

    [Fact]
    public void RandomFullyOffDropsOnlyTheFlag()
    {
        var block = IptablesRules.Masquerade("FLANNEL-POSTRTG", IPNetwork.Parse(Golden.N4), IPNetwork.Parse(Golden.P4), randomFully: false);
        Assert.Equal(Golden.WithoutRandomFully(Golden.Masq4), block.SaveLines());
        Assert.Equal(2, block.Rules.Count(r => r.EndsWith("-j MASQUERADE", StringComparison.Ordinal)));
    }

    [Fact]
    public void IptablesForwardBlocksAreFlannelsText()
    {
        Assert.Equal(Golden.Fwd4, IptablesRules.Forward("FLANNEL-FWD", IPNetwork.Parse(Golden.N4)).SaveLines());
        Assert.Equal(Golden.Fwd6, IptablesRules.Forward("FLANNEL-FWD", IPNetwork.Parse(Golden.N6)).SaveLines());
    }

    [Fact]
    public void ChainNamesArePerInstance()
    {
        var block = IptablesRules.Masquerade("FLN-BLUE-POSTRTG", IPNetwork.Parse(Golden.N4), IPNetwork.Parse(Golden.P4), randomFully: true);
        Assert.Equal(Golden.Renamed(Golden.Masq4, "FLN-BLUE-POSTRTG", "unused"), block.SaveLines());
    }

    [Fact]
    public void NftablesMasqueradeRulesAreFlannelsWithAMaskedMarkTest()
    {
        var rules = NftablesScript.MasqueradeRules(IpFamily.V4, IPNetwork.Parse(Golden.N4), IPNetwork.Parse(Golden.P4), fullyRandom: true);
        Assert.Equal(
            [
                "meta mark & 0x4000 == 0x4000 return",
                "ip saddr 10.244.5.0/24 ip daddr 10.244.0.0/16 return",
                "ip saddr 10.244.0.0/16 ip daddr 10.244.5.0/24 return",
                "ip saddr != 10.244.5.0/24 ip daddr 10.244.0.0/16 return",
                "ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random",
                "ip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random",
            ],
            rules);
    }

    [Fact]
    public void NftablesIPv6RulesUseIp6Keywords()
    {
        var rules = NftablesScript.MasqueradeRules(IpFamily.V6, IPNetwork.Parse(Golden.N6), IPNetwork.Parse(Golden.P6), fullyRandom: false);
        Assert.Equal("ip6 saddr fd42:cafe::/56 ip6 daddr != ff00::/8 masquerade", rules[4]);
        Assert.Equal(["ip6 saddr fd42:cafe::/56 accept", "ip6 daddr fd42:cafe::/56 accept"], NftablesScript.ForwardRules(IpFamily.V6, IPNetwork.Parse(Golden.N6)));
    }

    [Fact]
    public void NftablesEnsureChainScriptTouchesOneChainOfOneTable()
    {
        var script = NftablesScript.EnsureChain(IpFamily.V4, "flannel-ipv4", "forward", ["ip saddr 10.244.0.0/16 accept", "ip daddr 10.244.0.0/16 accept"]);
        Assert.Equal(
            "add table ip flannel-ipv4 { comment \"rules for flannel-ipv4\" ; }\n"
            + "add chain ip flannel-ipv4 forward { type filter hook forward priority filter ; comment \"chain to accept flannel traffic\" ; }\n"
            + "flush chain ip flannel-ipv4 forward\n"
            + "add rule ip flannel-ipv4 forward ip saddr 10.244.0.0/16 accept\n"
            + "add rule ip flannel-ipv4 forward ip daddr 10.244.0.0/16 accept\n",
            script);
    }

    [Fact]
    public void NftablesRebuildReplacesTheWholeTableOrJustDeletesIt()
    {
        var script = NftablesScript.Rebuild(IpFamily.V6, "flannel-ipv6", null, ["ip6 saddr fd42:cafe::/56 accept"]);
        Assert.Equal(
            "add table ip6 flannel-ipv6\ndelete table ip6 flannel-ipv6\n"
            + "table ip6 flannel-ipv6 {\n\tcomment \"rules for flannel-ipv6\"\n"
            + "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tcomment \"chain to accept flannel traffic\"\n"
            + "\t\tip6 saddr fd42:cafe::/56 accept\n\t}\n}\n",
            script);
        Assert.Equal("add table ip flannel-ipv4\ndelete table ip flannel-ipv4\n", NftablesScript.Rebuild(IpFamily.V4, "flannel-ipv4", null, null));
    }

    [Fact]
    public void NftablesChainsAreReadFromAListing()
    {
        Assert.Equal(["postrtg", "forward"], NftablesBackend.Chains(string.Join('\n', Golden.NftTable4)));
        Assert.Empty(NftablesBackend.Chains("table ip flannel-ipv4 {\n}\n"));
    }
}
