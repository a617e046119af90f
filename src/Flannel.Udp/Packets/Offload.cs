using System.Buffers.Binary;

namespace Flannel.Udp.Packets;

/// <summary>
/// Userspace halves of the TUN offloads: completing partial checksums and splitting TCP super-packets (TSO) on the
/// way out, so that every datagram still carries exactly one ordinary inner IPv4 packet.
/// </summary>
internal static class Offload
{
    /// <summary>Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM).</summary>
    /// <returns>False when the offsets do not fit the packet.</returns>
    public static bool CompleteChecksum(Span<byte> packet, int start, int offset)
    {
        if (start < 0 || offset < 0 || start + offset + 2 > packet.Length)
        {
            return false;
        }

        // The checksum field already holds the folded pseudo-header sum.
        ushort c = Checksum.Compute(packet[start..]);
        Checksum.Store(packet, start + offset, c);
        return true;
    }

    /// <summary>
    /// Splits an IPv4/TCP super-packet into packets of at most <paramref name="mss"/> payload bytes, written back to back
    /// into <paramref name="destination"/>. Each packet gets its own total length, IP id, sequence number, flags,
    /// TTL − 1 and full IP and TCP checksums.
    /// </summary>
    /// <param name="packet">The super-packet (IP header first), TTL already checked to be above 1.</param>
    /// <param name="mss">The segment payload size from the virtio header.</param>
    /// <param name="destination">Room for the packets.</param>
    /// <param name="segmentLength">The length of every packet but the last (which may be shorter).</param>
    /// <param name="count">The number of packets.</param>
    /// <returns>The bytes written, or −1 when the packet is not a well-formed IPv4/TCP packet or does not fit.</returns>
    public static int SegmentTcp(ReadOnlySpan<byte> packet, int mss, Span<byte> destination, out int segmentLength, out int count)
    {
        segmentLength = 0;
        count = 0;
        if (packet.Length < 40 || packet[0] >> 4 != 4 || packet[9] != Ipv4.ProtocolTcp || mss <= 0)
        {
            return -1;
        }

        int ihl = Ipv4.HeaderLength(packet);
        if (ihl < 20 || ihl + 20 > packet.Length)
        {
            return -1;
        }

        int thl = (packet[ihl + 12] >> 4) * 4;
        int hdr = ihl + thl;
        if (thl < 20 || hdr > packet.Length)
        {
            return -1;
        }

        int payload = packet.Length - hdr;
        int n = payload == 0 ? 1 : (payload + mss - 1) / mss;
        int total = (n * hdr) + payload;
        if (total > destination.Length)
        {
            return -1;
        }

        uint seq = BinaryPrimitives.ReadUInt32BigEndian(packet[(ihl + 4)..]);
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        byte flags = packet[ihl + 13];
        int pos = 0;
        for (int i = 0; i < n; i++)
        {
            int off = i * mss;
            int len = Math.Min(mss, payload - off);
            var seg = destination.Slice(pos, hdr + len);
            packet[..hdr].CopyTo(seg);
            packet.Slice(hdr + off, len).CopyTo(seg[hdr..]);
            BinaryPrimitives.WriteUInt16BigEndian(seg[2..], (ushort)(hdr + len));
            BinaryPrimitives.WriteUInt16BigEndian(seg[4..], (ushort)(id + i));
            seg[8]--;
            Checksum.SetIpv4HeaderChecksum(seg);

            var tcp = seg[ihl..];
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq + (uint)off);
            byte f = flags;
            if (i != n - 1)
            {
                f &= unchecked((byte)~0x09); // FIN and PSH only on the last segment
            }

            if (i != 0)
            {
                f &= unchecked((byte)~0x80); // CWR only on the first
            }

            tcp[13] = f;
            tcp[16] = 0;
            tcp[17] = 0;
            ulong sum = Checksum.PseudoHeader(seg, Ipv4.ProtocolTcp, thl + len);
            Checksum.Store(tcp, 16, Checksum.Compute(tcp[..(thl + len)], sum));
            pos += hdr + len;
        }

        segmentLength = hdr + Math.Min(mss, payload == 0 ? 0 : payload);
        count = n;
        return pos;
    }
}
