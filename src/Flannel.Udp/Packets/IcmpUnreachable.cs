using System.Buffers.Binary;

namespace Flannel.Udp.Packets;

/// <summary>
/// Builds ICMP "destination unreachable / net unreachable" (type 3, code 0) replies for packets whose destination
/// no peer subnet contains, as flannel's proxy does: sent from the TUN address, TTL 8, quoting the offending
/// packet's IP header and the first 8 bytes of its payload.
/// </summary>
internal static class IcmpUnreachable
{
    public const byte TypeDestinationUnreachable = 3;
    public const byte CodeNetUnreachable = 0;
    public const byte Ttl = 8;

    /// <summary>The largest reply: a 20-byte header, 8 bytes of ICMP, a 60-byte quoted header and 8 bytes.</summary>
    public const int MaxLength = 20 + 8 + 60 + 8;

    /// <summary>
    /// Whether an ICMP error may be sent about <paramref name="packet"/> (RFC 1812 §4.3.2.7): not about ICMP errors,
    /// non-first fragments, or packets from unspecified, broadcast or multicast sources or to multicast destinations.
    /// </summary>
    public static bool MayReplyTo(ReadOnlySpan<byte> packet)
    {
        if (Ipv4.FragmentOffset(packet) != 0)
        {
            return false;
        }

        uint src = Ipv4.Source(packet);
        uint dst = Ipv4.Destination(packet);
        if (src == 0 || src == 0xFFFFFFFF || (src >> 28) == 0xE || (dst >> 28) == 0xE || dst == 0xFFFFFFFF)
        {
            return false;
        }

        int ihl = Ipv4.HeaderLength(packet);
        if (packet[9] == Ipv4.ProtocolIcmp)
        {
            if (packet.Length < ihl + 1)
            {
                return false;
            }

            // Only informational messages (echo, timestamp, ...) get a reply; errors never do.
            byte type = packet[ihl];
            return type is 0 or 8 or 13 or 14 or 15 or 16 or 17 or 18;
        }

        return true;
    }

    /// <summary>Writes the reply into <paramref name="destination"/> and returns its length.</summary>
    /// <param name="offending">The packet that could not be routed (already validated).</param>
    /// <param name="tunAddress">The TUN device's address (the reply's source), host order.</param>
    /// <param name="destination">At least <see cref="MaxLength"/> bytes.</param>
    public static int Write(ReadOnlySpan<byte> offending, uint tunAddress, Span<byte> destination)
    {
        int ihl = Ipv4.HeaderLength(offending);
        int quoted = Math.Min(offending.Length, ihl + 8);
        int total = 20 + 8 + quoted;
        var reply = destination[..total];
        reply[0] = 0x45;
        reply[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(reply[2..], (ushort)total);
        BinaryPrimitives.WriteUInt32BigEndian(reply[4..], 0); // id 0, no flags, offset 0
        reply[8] = Ttl;
        reply[9] = Ipv4.ProtocolIcmp;
        reply[10] = 0;
        reply[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(reply[12..], tunAddress);
        offending.Slice(12, 4).CopyTo(reply[16..]); // back to the sender
        Checksum.Store(reply, 10, Checksum.Compute(reply[..20]));

        var icmp = reply[20..];
        icmp[0] = TypeDestinationUnreachable;
        icmp[1] = CodeNetUnreachable;
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], 0);
        offending[..quoted].CopyTo(icmp[8..]);
        Checksum.Store(icmp, 2, Checksum.Compute(icmp[..(8 + quoted)]));
        return total;
    }
}
