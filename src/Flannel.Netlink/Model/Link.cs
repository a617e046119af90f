using System.Net.NetworkInformation;

namespace Flannel.Netlink;

/// <summary>A network interface as the kernel reports it (RTM_NEWLINK).</summary>
/// <example><code>var link = await rtnl.Links.GetAsync("flannel.1", ct); Console.WriteLine($"{link?.Index} mtu {link?.Mtu}");</code></example>
public sealed record Link
{
    /// <summary>The interface index (ifi_index).</summary>
    public required int Index { get; init; }

    /// <summary>The name (IFLA_IFNAME).</summary>
    public required string Name { get; init; }

    /// <summary>The device kind (IFLA_INFO_KIND: <c>vxlan</c>, <c>veth</c>, <c>bridge</c>, <c>tun</c>…), or null for plain devices.</summary>
    public string? Kind { get; init; }

    /// <summary>The interface flags (ifi_flags).</summary>
    public LinkFlags Flags { get; init; }

    /// <summary>The ARP hardware type (ifi_type: 1 = Ethernet, 772 = loopback, 65534 = none/tun).</summary>
    public ushort HardwareType { get; init; }

    /// <summary>The MTU (IFLA_MTU).</summary>
    public int? Mtu { get; init; }

    /// <summary>The link-layer address (IFLA_ADDRESS), if the device has one.</summary>
    public PhysicalAddress? MacAddress { get; init; }

    /// <summary>The master device (bridge) index (IFLA_MASTER), if enslaved.</summary>
    public int? MasterIndex { get; init; }

    /// <summary>The parent/peer link index (IFLA_LINK), if any.</summary>
    public int? ParentIndex { get; init; }

    /// <summary>The RFC 2863 operational state (IFLA_OPERSTATE: 0 unknown, 2 down, 6 up).</summary>
    public byte? OperationalState { get; init; }

    /// <summary>True when the interface is administratively up.</summary>
    public bool IsUp => (Flags & LinkFlags.Up) != 0;

    /// <summary>The vxlan settings, when <see cref="Kind"/> is <c>vxlan</c>.</summary>
    public VxlanInfo? Vxlan { get; init; }

    /// <summary>Top-level attributes this library does not decode, preserved.</summary>
    public IReadOnlyList<RawAttribute> UnknownAttributes { get; init; } = [];
}
