using System.Net;
using System.Net.NetworkInformation;

namespace Flannel.Netlink;

/// <summary>A bridge forwarding-database entry (AF_BRIDGE neighbour) as the kernel reports it.</summary>
/// <example><code>foreach (var e in await rtnl.Fdb.ListAsync(vtep.Index, ct)) Console.WriteLine($"{e.LinkAddress} dst {e.Destination}");</code></example>
public sealed record FdbEntry
{
    /// <summary>The device index (ndm_ifindex).</summary>
    public required int InterfaceIndex { get; init; }

    /// <summary>NDA_LLADDR: the MAC.</summary>
    public required PhysicalAddress LinkAddress { get; init; }

    /// <summary>NDA_DST: the remote VTEP, if any.</summary>
    public IPAddress? Destination { get; init; }

    /// <summary>NDA_PORT, if present.</summary>
    public ushort? Port { get; init; }

    /// <summary>NDA_VNI, if present.</summary>
    public uint? Vni { get; init; }

    /// <summary>NDA_MASTER: the bridge index, if any.</summary>
    public int? MasterIndex { get; init; }

    /// <summary>ndm_state.</summary>
    public NeighborState State { get; init; }

    /// <summary>ndm_flags.</summary>
    public NeighborFlags Flags { get; init; }
}
