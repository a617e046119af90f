using System.Net;
using System.Net.NetworkInformation;

namespace Flannel.Netlink;

/// <summary>A bridge forwarding-database entry on a vxlan device (NTF_SELF): frames for <see cref="LinkAddress"/> go to <see cref="Destination"/>.</summary>
/// <param name="InterfaceIndex">The vxlan device index.</param>
/// <param name="LinkAddress">The MAC (00:00:00:00:00:00 for the default/flood list).</param>
/// <param name="Destination">The remote VTEP address (NDA_DST).</param>
/// <example><code>await rtnl.Fdb.ReplaceAsync(new FdbSpec(vtep.Index, peerMac, IPAddress.Parse("198.18.0.2")), ct);</code></example>
public sealed record FdbSpec(int InterfaceIndex, PhysicalAddress LinkAddress, IPAddress Destination)
{
    /// <summary>NDA_PORT: the remote UDP port (big-endian on the wire), or null for the device's port.</summary>
    public ushort? Port { get; init; }

    /// <summary>NDA_VNI: the remote VNI, or null for the device's VNI.</summary>
    public uint? Vni { get; init; }

    /// <summary>The state; permanent by default.</summary>
    public NeighborState State { get; init; } = NeighborState.Permanent;
}
