using System.Net;

namespace Flannel.Netlink;

/// <summary>A route to install or delete. Unset (null) fields are not sent.</summary>
/// <param name="Destination">The destination prefix (0.0.0.0/0 for a default route).</param>
/// <example>
/// <code>
/// await rtnl.Routes.ReplaceAsync(new RouteSpec(IPNetwork.Parse("10.244.3.0/24")) { Gateway = IPAddress.Parse("10.244.3.0"), Device = vtep.Index, OnLink = true }, ct);
/// </code>
/// </example>
public sealed record RouteSpec(IPNetwork Destination)
{
    /// <summary>RTA_GATEWAY: the next hop.</summary>
    public IPAddress? Gateway { get; init; }

    /// <summary>RTA_OIF: the output interface index.</summary>
    public int? Device { get; init; }

    /// <summary>RTNH_F_ONLINK: the gateway is reachable on the device even without a covering prefix.</summary>
    public bool OnLink { get; init; }

    /// <summary>rtm_scope; null picks universe for gateway routes and link for device-only routes.</summary>
    public RouteScope? Scope { get; init; }

    /// <summary>rtm_protocol; null means <see cref="RouteProtocol.Boot"/> (what <c>ip route add</c> uses).</summary>
    public RouteProtocol? Protocol { get; init; }

    /// <summary>The table id (rtm_table, and RTA_TABLE above 255); null means main (254).</summary>
    public uint? Table { get; init; }

    /// <summary>rtm_type; null means unicast.</summary>
    public RouteType? Type { get; init; }

    /// <summary>RTA_PREFSRC: the preferred source address.</summary>
    public IPAddress? PreferredSource { get; init; }

    /// <summary>RTA_PRIORITY: the metric.</summary>
    public uint? Metric { get; init; }
}
