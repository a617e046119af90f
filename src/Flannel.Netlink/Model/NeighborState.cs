namespace Flannel.Netlink;

/// <summary>Neighbour cache states (NUD_* in linux/neighbour.h, ndm_state).</summary>
/// <example><code>var spec = new NeighborSpec(ix, ip, mac) { State = NeighborState.Permanent };</code></example>
[Flags]
public enum NeighborState : ushort
{
    /// <summary>NUD_NONE.</summary>
    None = 0,
    /// <summary>NUD_INCOMPLETE.</summary>
    Incomplete = 0x01,
    /// <summary>NUD_REACHABLE.</summary>
    Reachable = 0x02,
    /// <summary>NUD_STALE.</summary>
    Stale = 0x04,
    /// <summary>NUD_DELAY.</summary>
    Delay = 0x08,
    /// <summary>NUD_PROBE.</summary>
    Probe = 0x10,
    /// <summary>NUD_FAILED.</summary>
    Failed = 0x20,
    /// <summary>NUD_NOARP.</summary>
    NoArp = 0x40,
    /// <summary>NUD_PERMANENT: static, never expires.</summary>
    Permanent = 0x80,
}
