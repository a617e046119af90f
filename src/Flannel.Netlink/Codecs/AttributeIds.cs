namespace Flannel.Netlink.Codecs;

/// <summary>IFLA_* (linux/if_link.h).</summary>
internal static class Ifla
{
    internal const ushort Address = 1, Broadcast = 2, IfName = 3, Mtu = 4, Link = 5, Master = 10, OperState = 16,
        LinkInfo = 18, NetNsFd = 28, ExtMask = 29;

    internal const ushort InfoKind = 1, InfoData = 2;

    internal const ushort VethInfoPeer = 1;
}

/// <summary>IFLA_VXLAN_* (linux/if_link.h).</summary>
internal static class VxlanAttr
{
    internal const ushort Id = 1, Group = 2, Link = 3, Local = 4, Ttl = 5, Learning = 7, Port = 15, Group6 = 16,
        Local6 = 17, Gbp = 23;
}

/// <summary>IFA_* (linux/if_addr.h).</summary>
internal static class Ifa
{
    internal const ushort Address = 1, Local = 2, Label = 3, Broadcast = 4, Flags = 8;
    internal const byte FlagNoDad = 0x02;
}

/// <summary>RTA_* (linux/rtnetlink.h).</summary>
internal static class Rta
{
    internal const ushort Dst = 1, Oif = 4, Gateway = 5, Priority = 6, PrefSrc = 7, Table = 15;
    internal const uint FlagOnLink = 4;
}

/// <summary>NDA_* (linux/neighbour.h).</summary>
internal static class Nda
{
    internal const ushort Dst = 1, LlAddr = 2, Port = 6, Vni = 7, IfIndex = 8, Master = 9;
}
