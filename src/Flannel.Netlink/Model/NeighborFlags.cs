namespace Flannel.Netlink;

/// <summary>Neighbour flags (NTF_* in linux/neighbour.h, ndm_flags).</summary>
/// <example><code>bool self = (entry.Flags &amp; NeighborFlags.Self) != 0;</code></example>
[Flags]
#pragma warning disable CA1711, CA1028
public enum NeighborFlags : byte
#pragma warning restore CA1711, CA1028
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>NTF_USE.</summary>
    Use = 0x01,
    /// <summary>NTF_SELF: the entry belongs to the device itself (vxlan FDB).</summary>
    Self = 0x02,
    /// <summary>NTF_MASTER: the entry belongs to the master bridge.</summary>
    Master = 0x04,
    /// <summary>NTF_PROXY.</summary>
    Proxy = 0x08,
    /// <summary>NTF_EXT_LEARNED.</summary>
    ExternallyLearned = 0x10,
    /// <summary>NTF_OFFLOADED.</summary>
    Offloaded = 0x20,
    /// <summary>NTF_STICKY.</summary>
    Sticky = 0x40,
    /// <summary>NTF_ROUTER.</summary>
    Router = 0x80,
}
