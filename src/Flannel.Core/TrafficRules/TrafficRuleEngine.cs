namespace Flannel.TrafficRules;

/// <summary>The packet-filter engine that installs flannel's masquerade and forward rules.</summary>
public enum TrafficRuleEngine
{
    /// <summary>No rules at all: the host (or another component) takes care of NAT and forwarding.</summary>
    None = 0,

    /// <summary>
    /// iptables/ip6tables through <c>iptables-save</c> and <c>iptables-restore --noflush</c>, in the chains
    /// <see cref="TrafficRuleOptions.MasqueradeChain"/> (nat) and <see cref="TrafficRuleOptions.ForwardChain"/> (filter).
    /// Works with both the legacy and the nf_tables flavour of iptables.
    /// </summary>
    Iptables = 1,

    /// <summary>
    /// nftables through <c>nft -f -</c>, in the tables <see cref="TrafficRuleOptions.NftablesIPv4Table"/> (family ip)
    /// and <see cref="TrafficRuleOptions.NftablesIPv6Table"/> (family ip6). flanneld's <c>EnableNFTables</c> mode.
    /// </summary>
    Nftables = 2,
}
