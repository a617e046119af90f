using System.Net;

namespace Flannel;

/// <summary>The kind of a route.</summary>
public enum OverlayRouteType
{
    /// <summary>An ordinary route that forwards traffic.</summary>
    Unicast = 0,

    /// <summary>A route that silently drops traffic.</summary>
    Blackhole = 1,
}

/// <summary>
/// A desired route: where traffic for <see cref="Destination"/> goes. Kernel route tables use
/// <see cref="Gateway"/>, <see cref="Device"/>, <see cref="Table"/> and <see cref="OnLink"/>; cloud route tables
/// use <see cref="NextHop"/> (an instance or network-interface identifier).
/// </summary>
/// <param name="Destination">The destination prefix; a route table holds at most one route per destination and table.</param>
public sealed record OverlayRoute(IPNetwork Destination)
{
    /// <summary>The next-hop address, or null for a device route.</summary>
    public IPAddress? Gateway { get; init; }

    /// <summary>The output device name (kernel tables), or null.</summary>
    public string? Device { get; init; }

    /// <summary>The routing table id; null means the implementation's default (the kernel's main table, 254).</summary>
    public int? Table { get; init; }

    /// <summary>Whether the gateway is declared directly reachable on the device (the kernel's <c>onlink</c> flag).</summary>
    public bool OnLink { get; init; }

    /// <summary>The route kind.</summary>
    public OverlayRouteType Type { get; init; } = OverlayRouteType.Unicast;

    /// <summary>An opaque next hop for cloud route tables (instance id, ENI id), or null.</summary>
    public string? NextHop { get; init; }
}
