using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Flannel.Udp.Packets;

/// <summary>IPv4 header checks and field access for the data path.</summary>
internal static class Ipv4
{
    public const int MinHeaderLength = 20;
    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;

    /// <summary>
    /// Checks that <paramref name="packet"/> is exactly one well-formed IPv4 packet: version 4, IHL ≥ 5 and within the
    /// buffer, total length equal to the buffer length and a correct header checksum.
    /// </summary>
    /// <returns>Null when the packet is valid, otherwise the reason to drop it.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason? Validate(ReadOnlySpan<byte> packet, bool verifyChecksum = true)
    {
        if (packet.Length < MinHeaderLength)
        {
            return DropReason.Truncated;
        }

        if (packet[0] >> 4 != 4)
        {
            return DropReason.BadVersion;
        }

        int ihl = (packet[0] & 0x0F) * 4;
        if (ihl < MinHeaderLength)
        {
            return DropReason.BadHeaderLength;
        }

        if (ihl > packet.Length)
        {
            return DropReason.Truncated;
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) != packet.Length)
        {
            return DropReason.LengthMismatch;
        }

        if (verifyChecksum && Checksum.Fold(Checksum.Add(packet[..ihl])) != 0xFFFF)
        {
            return DropReason.BadChecksum;
        }

        return null;
    }

    /// <summary>The destination address as a host-order integer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Destination(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt32BigEndian(packet[16..]);

    /// <summary>The source address as a host-order integer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Source(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt32BigEndian(packet[12..]);

    /// <summary>The header length in bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HeaderLength(ReadOnlySpan<byte> packet) => (packet[0] & 0x0F) * 4;

    /// <summary>The fragment offset in 8-byte units (0 for an unfragmented packet or a first fragment).</summary>
    public static int FragmentOffset(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x1FFF;
}
