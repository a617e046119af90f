using System.Net;
using System.Net.NetworkInformation;

namespace Flannel.Netlink;

/// <summary>An ARP or NDP entry as the kernel reports it.</summary>
/// <example><code>foreach (var n in await rtnl.Neighbors.ListAsync(vtep.Index, ct: ct)) Console.WriteLine($"{n.Address} {n.LinkAddress} {n.State}");</code></example>
public sealed record Neighbor
{
    /// <summary>The interface index (ndm_ifindex).</summary>
    public required int InterfaceIndex { get; init; }

    /// <summary>NDA_DST: the IP address.</summary>
    public required IPAddress Address { get; init; }

    /// <summary>NDA_LLADDR: the link-layer address, if known.</summary>
    public PhysicalAddress? LinkAddress { get; init; }

    /// <summary>ndm_state.</summary>
    public NeighborState State { get; init; }

    /// <summary>ndm_flags.</summary>
    public NeighborFlags Flags { get; init; }
}
