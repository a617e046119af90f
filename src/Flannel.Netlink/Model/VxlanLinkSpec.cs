using System.Net;

namespace Flannel.Netlink;

/// <summary>A vxlan device. Unset (null) attributes are not sent; the port is encoded big-endian, the VNI in host order.</summary>
/// <example>
/// <code>
/// var spec = new VxlanLinkSpec("flannel.1", vni: 1) { Local = IPAddress.Parse("198.18.0.1"), Device = eth0.Index, Port = 8472, Learning = false };
/// var vtep = await rtnl.Links.EnsureAsync(spec, ct);
/// </code>
/// </example>
public sealed record VxlanLinkSpec : LinkSpec
{
    /// <summary>Creates the spec.</summary>
    /// <param name="name">The device name.</param>
    /// <param name="vni">The VXLAN network identifier (24 bits).</param>
    public VxlanLinkSpec(string name, uint vni)
        : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vni, 0xFFFFFFu, nameof(vni));
        Vni = vni;
    }

    /// <inheritdoc />
    public override string Kind => "vxlan";

    /// <summary>IFLA_VXLAN_ID.</summary>
    public uint Vni { get; init; }

    /// <summary>IFLA_VXLAN_LOCAL (IPv4) or IFLA_VXLAN_LOCAL6 (IPv6).</summary>
    public IPAddress? Local { get; init; }

    /// <summary>IFLA_VXLAN_LINK: the underlay device index.</summary>
    public int? Device { get; init; }

    /// <summary>IFLA_VXLAN_PORT: the UDP destination port (8472 for flannel, 4789 IANA).</summary>
    public ushort? Port { get; init; }

    /// <summary>IFLA_VXLAN_LEARNING.</summary>
    public bool? Learning { get; init; }

    /// <summary>IFLA_VXLAN_GBP (a flag attribute: sent only when true).</summary>
    public bool Gbp { get; init; }

    /// <summary>IFLA_VXLAN_TTL.</summary>
    public byte? Ttl { get; init; }
}
