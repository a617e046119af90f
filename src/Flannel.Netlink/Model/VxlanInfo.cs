using System.Net;

namespace Flannel.Netlink;

/// <summary>The vxlan settings of a device as read back from the kernel (IFLA_INFO_DATA of a vxlan link).</summary>
/// <example><code>if (link.Vxlan is { Vni: 1, Port: 8472 }) Console.WriteLine("flannel.1 as flannel makes it");</code></example>
public sealed record VxlanInfo
{
    /// <summary>IFLA_VXLAN_ID: the VNI.</summary>
    public uint? Vni { get; init; }

    /// <summary>IFLA_VXLAN_LOCAL / IFLA_VXLAN_LOCAL6: the source address.</summary>
    public IPAddress? Local { get; init; }

    /// <summary>IFLA_VXLAN_GROUP / GROUP6: the default remote or multicast group.</summary>
    public IPAddress? Group { get; init; }

    /// <summary>IFLA_VXLAN_LINK: the underlay device index.</summary>
    public int? Device { get; init; }

    /// <summary>IFLA_VXLAN_PORT: the UDP destination port (host order here; big-endian on the wire).</summary>
    public ushort? Port { get; init; }

    /// <summary>IFLA_VXLAN_LEARNING.</summary>
    public bool? Learning { get; init; }

    /// <summary>IFLA_VXLAN_GBP: group-based policy extension enabled.</summary>
    public bool Gbp { get; init; }

    /// <summary>IFLA_VXLAN_TTL (0 = inherit).</summary>
    public byte? Ttl { get; init; }

    /// <summary>vxlan attributes this library does not decode, preserved.</summary>
    public IReadOnlyList<RawAttribute> UnknownAttributes { get; init; } = [];
}
