namespace Flannel.Udp;

/// <summary>
/// Counters of the data path. Each field has one writer (the pump thread of its direction), so increments are plain;
/// readers (metrics, tests) use <see cref="Volatile"/> reads.
/// </summary>
internal sealed class DataPathCounters
{
    /// <summary>Inner packets sent to peers (after TSO segmentation).</summary>
    public long EgressPackets;

    /// <summary>Inner bytes sent to peers.</summary>
    public long EgressBytes;

    /// <summary>Inner packets written to the TUN from peers.</summary>
    public long IngressPackets;

    /// <summary>Inner bytes written to the TUN from peers.</summary>
    public long IngressBytes;

    /// <summary>ICMP net-unreachable replies written to the TUN.</summary>
    public long IcmpSent;

    /// <summary>Frames read from the TUN (a TSO super-packet is one frame).</summary>
    public long TunReads;

    /// <summary>Frames written to the TUN (a coalesced super-packet is one frame).</summary>
    public long TunWrites;

    /// <summary>
    /// Inner packets whose send failed with an error that is not transient (not EAGAIN, ENOBUFS, ENOMEM or a peer's
    /// ECONNREFUSED): the socket or the underlay refuses (EPERM from a firewall, ENETUNREACH, EBADF…). Also counted in
    /// the <see cref="DropReason.SendFailed"/> drops.
    /// </summary>
    public long SendErrors;

    /// <summary>Drops on the TUN → UDP side, by <see cref="DropReason"/>.</summary>
    public readonly long[] EgressDrops = new long[DropReasons.Count];

    /// <summary>Drops on the UDP → TUN side, by <see cref="DropReason"/>.</summary>
    public readonly long[] IngressDrops = new long[DropReasons.Count];

    public long Drops(DropReason reason) =>
        Volatile.Read(ref EgressDrops[(int)reason]) + Volatile.Read(ref IngressDrops[(int)reason]);

    public override string ToString()
    {
        var parts = new List<string>
        {
            $"egress={Volatile.Read(ref EgressPackets)}",
            $"ingress={Volatile.Read(ref IngressPackets)}",
            $"tun_reads={Volatile.Read(ref TunReads)}",
            $"tun_writes={Volatile.Read(ref TunWrites)}",
            $"icmp={Volatile.Read(ref IcmpSent)}",
        };
        for (int i = 0; i < DropReasons.Count; i++)
        {
            long d = Drops((DropReason)i);
            if (d != 0)
            {
                parts.Add($"drop_{DropReasons.Tag((DropReason)i)}={d}");
            }
        }

        return string.Join(' ', parts);
    }
}
