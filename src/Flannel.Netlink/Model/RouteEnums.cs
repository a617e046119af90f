namespace Flannel.Netlink;

/// <summary>Who installed a route (rtm_protocol, RTPROT_*).</summary>
/// <example><code>var ours = new RouteSpec(dst) { Protocol = (RouteProtocol)0x6c };</code></example>
#pragma warning disable CA1028 // the kernel field is one byte
public enum RouteProtocol : byte
#pragma warning restore CA1028
{
    /// <summary>RTPROT_UNSPEC.</summary>
    Unspecified = 0,
    /// <summary>RTPROT_REDIRECT.</summary>
    Redirect = 1,
    /// <summary>RTPROT_KERNEL: installed by the kernel (connected routes).</summary>
    Kernel = 2,
    /// <summary>RTPROT_BOOT: the default of <c>ip route add</c> and of vishvananda/netlink (so of Go flanneld).</summary>
    Boot = 3,
    /// <summary>RTPROT_STATIC: installed by an administrator.</summary>
    Static = 4,
    /// <summary>RTPROT_DHCP.</summary>
    Dhcp = 16,
}

/// <summary>Route and address scope (rt_scope_t).</summary>
/// <example><code>var s = route.Scope == RouteScope.Link ? "link" : "global";</code></example>
#pragma warning disable CA1028
public enum RouteScope : byte
#pragma warning restore CA1028
{
    /// <summary>RT_SCOPE_UNIVERSE: global.</summary>
    Universe = 0,
    /// <summary>RT_SCOPE_SITE.</summary>
    Site = 200,
    /// <summary>RT_SCOPE_LINK: directly attached.</summary>
    Link = 253,
    /// <summary>RT_SCOPE_HOST: local to this host.</summary>
    Host = 254,
    /// <summary>RT_SCOPE_NOWHERE.</summary>
    Nowhere = 255,
}

/// <summary>The route type (rtm_type, RTN_*).</summary>
/// <example><code>await rtnl.Routes.ReplaceAsync(new RouteSpec(dst) { Type = RouteType.Blackhole }, ct);</code></example>
#pragma warning disable CA1028
public enum RouteType : byte
#pragma warning restore CA1028
{
    /// <summary>RTN_UNSPEC.</summary>
    Unspecified = 0,
    /// <summary>RTN_UNICAST: a gateway or direct route.</summary>
    Unicast = 1,
    /// <summary>RTN_LOCAL: an address of this host.</summary>
    Local = 2,
    /// <summary>RTN_BROADCAST.</summary>
    Broadcast = 3,
    /// <summary>RTN_ANYCAST.</summary>
    Anycast = 4,
    /// <summary>RTN_MULTICAST.</summary>
    Multicast = 5,
    /// <summary>RTN_BLACKHOLE: drop silently.</summary>
    Blackhole = 6,
    /// <summary>RTN_UNREACHABLE: drop with host-unreachable.</summary>
    Unreachable = 7,
    /// <summary>RTN_PROHIBIT: drop with administratively-prohibited.</summary>
    Prohibit = 8,
    /// <summary>RTN_THROW.</summary>
    Throw = 9,
    /// <summary>RTN_NAT.</summary>
    Nat = 10,
}

/// <summary>Well-known routing table ids (RT_TABLE_*).</summary>
/// <example><code>var filter = new RouteFilter { Table = RouteTables.Main };</code></example>
public static class RouteTables
{
    /// <summary>RT_TABLE_DEFAULT (253).</summary>
    public const uint Default = 253;

    /// <summary>RT_TABLE_MAIN (254): where <c>ip route</c> works by default.</summary>
    public const uint Main = 254;

    /// <summary>RT_TABLE_LOCAL (255): local and broadcast addresses.</summary>
    public const uint Local = 255;
}
