namespace Flannel.Netlink;

/// <summary>Interface flags (IFF_* in linux/if.h, <c>ifi_flags</c>).</summary>
/// <example><code>bool up = link.Flags.HasFlag(LinkFlags.Up);</code></example>
[Flags]
#pragma warning disable CA1711 // "Flags" is the kernel's name
public enum LinkFlags : uint
#pragma warning restore CA1711
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>IFF_UP: administratively up.</summary>
    Up = 0x1,
    /// <summary>IFF_BROADCAST.</summary>
    Broadcast = 0x2,
    /// <summary>IFF_LOOPBACK.</summary>
    Loopback = 0x8,
    /// <summary>IFF_POINTOPOINT.</summary>
    PointToPoint = 0x10,
    /// <summary>IFF_RUNNING: operationally up.</summary>
    Running = 0x40,
    /// <summary>IFF_NOARP.</summary>
    NoArp = 0x80,
    /// <summary>IFF_PROMISC.</summary>
    Promiscuous = 0x100,
    /// <summary>IFF_MULTICAST.</summary>
    Multicast = 0x1000,
    /// <summary>IFF_LOWER_UP: the carrier is up.</summary>
    LowerUp = 0x10000,
}
