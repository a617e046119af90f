using System.Net.Sockets;

namespace Flannel.Netlink;

/// <summary>Kernel-side filters for a route dump (sent under strict checking, so the kernel filters, not this process).</summary>
/// <example><code>var mine = await rtnl.Routes.ListAsync(new RouteFilter { Family = AddressFamily.InterNetwork, Device = vtep.Index }, ct);</code></example>
public sealed record RouteFilter
{
    /// <summary>Only this family (InterNetwork or InterNetworkV6); null for both.</summary>
    public AddressFamily? Family { get; init; }

    /// <summary>Only this table; null means main (254). Use 0 for all tables.</summary>
    public uint? Table { get; init; }

    /// <summary>Only routes through this output interface.</summary>
    public int? Device { get; init; }

    /// <summary>Only routes with this protocol.</summary>
    public RouteProtocol? Protocol { get; init; }

    /// <summary>Only routes of this type.</summary>
    public RouteType? Type { get; init; }
}
