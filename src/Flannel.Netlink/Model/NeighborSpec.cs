using System.Net;
using System.Net.NetworkInformation;

namespace Flannel.Netlink;

/// <summary>An ARP (IPv4) or NDP (IPv6) entry to install.</summary>
/// <param name="InterfaceIndex">The interface index.</param>
/// <param name="Address">The neighbour's IP address.</param>
/// <param name="LinkAddress">Its link-layer address.</param>
/// <example><code>await rtnl.Neighbors.ReplaceAsync(new NeighborSpec(vtep.Index, IPAddress.Parse("10.244.3.0"), peerMac), ct);</code></example>
public sealed record NeighborSpec(int InterfaceIndex, IPAddress Address, PhysicalAddress LinkAddress)
{
    /// <summary>The state; permanent by default.</summary>
    public NeighborState State { get; init; } = NeighborState.Permanent;
}
