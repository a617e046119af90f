namespace Flannel.Netlink;

/// <summary>What a monitor subscribes to (rtnetlink multicast groups).</summary>
/// <example><code>await foreach (var e in rtnl.WatchAsync(RtnetlinkGroups.Link | RtnetlinkGroups.IPv4Route, ct)) Console.WriteLine(e);</code></example>
[Flags]
public enum RtnetlinkGroups
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary>RTNLGRP_LINK: links added, changed, removed.</summary>
    Link = 1,
    /// <summary>RTNLGRP_IPV4_IFADDR.</summary>
    IPv4Address = 2,
    /// <summary>RTNLGRP_IPV6_IFADDR.</summary>
    IPv6Address = 4,
    /// <summary>RTNLGRP_IPV4_ROUTE.</summary>
    IPv4Route = 8,
    /// <summary>RTNLGRP_IPV6_ROUTE.</summary>
    IPv6Route = 16,
    /// <summary>RTNLGRP_NEIGH: ARP/NDP entries and bridge/vxlan FDB entries.</summary>
    Neighbor = 32,
    /// <summary>Every group above.</summary>
    All = Link | IPv4Address | IPv6Address | IPv4Route | IPv6Route | Neighbor,
}
