namespace Flannel.TrafficRules;

/// <summary>The two address families the rules are installed for.</summary>
internal enum IpFamily
{
    /// <summary>IPv4 (iptables, nft family ip).</summary>
    V4,

    /// <summary>IPv6 (ip6tables, nft family ip6).</summary>
    V6,
}
