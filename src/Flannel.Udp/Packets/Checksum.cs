using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Flannel.Udp.Packets;

/// <summary>
/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
/// </summary>
/// <remarks>
/// Sums are accumulated over native-order words: the one's-complement sum is byte-order independent, so a
/// sum folded in native order and stored back in native order yields the right bytes on the wire.
/// </remarks>
internal static class Checksum
{
    /// <summary>Adds <paramref name="data"/> to a running native-order sum (not folded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ReadOnlySpan<byte> data, ulong sum = 0)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        nint n = data.Length;
        nint i = 0;
        ulong s0 = sum, s1 = 0, s2 = 0, s3 = 0;
        for (; i + 16 <= n; i += 16)
        {
            s0 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i));
            s1 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 4));
            s2 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 8));
            s3 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i + 12));
        }

        for (; i + 4 <= n; i += 4)
        {
            s0 += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i));
        }

        if (i + 2 <= n)
        {
            s1 += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, i));
            i += 2;
        }

        if (i < n)
        {
            // An odd trailing byte is the high byte of a zero-padded big-endian word.
            s2 += BitConverter.IsLittleEndian ? Unsafe.Add(ref p, i) : (ulong)Unsafe.Add(ref p, i) << 8;
        }

        // Each partial sum fits easily: at most 2^14 words of 32 bits per 64 KiB.
        return s0 + s1 + s2 + s3;
    }

    /// <summary>Folds a native-order 64-bit sum to 16 bits (native order), with end-around carries.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        uint s = (uint)sum;
        s = (s & 0xFFFF) + (s >> 16);
        s = (s & 0xFFFF) + (s >> 16);
        return (ushort)s;
    }

    /// <summary>The checksum (complement of the folded sum) of <paramref name="data"/>, in native order.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, ulong initial = 0) => (ushort)~Fold(Add(data, initial));

    /// <summary>Stores a native-order checksum at <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Span<byte> packet, int offset, ushort nativeValue) =>
        Unsafe.WriteUnaligned(ref packet[offset], nativeValue);

    /// <summary>The native-order sum of an IPv4 pseudo header (addresses, protocol, transport length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong PseudoHeader(ReadOnlySpan<byte> ipHeader, byte protocol, int transportLength)
    {
        ulong sum = Unsafe.ReadUnaligned<uint>(ref Unsafe.AsRef(in ipHeader[12]));
        sum += Unsafe.ReadUnaligned<uint>(ref Unsafe.AsRef(in ipHeader[16]));
        Span<byte> tail = stackalloc byte[4];
        tail[0] = 0;
        tail[1] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(tail[2..], (ushort)transportLength);
        sum += MemoryMarshal.Read<uint>(tail);
        return sum;
    }

    /// <summary>Recomputes the IPv4 header checksum from scratch (the header length is read from IHL).</summary>
    public static void SetIpv4HeaderChecksum(Span<byte> packet)
    {
        int ihl = (packet[0] & 0x0F) * 4;
        packet[10] = 0;
        packet[11] = 0;
        Store(packet, 10, Compute(packet[..ihl]));
    }

    /// <summary>
    /// Decrements the IPv4 TTL and updates the header checksum incrementally (RFC 1624, eqn. 3:
    /// HC' = ~(~HC + ~m + m')), where m is the 16-bit word holding TTL and protocol.
    /// </summary>
    /// <returns>The new TTL; the caller drops the packet when it is 0 (the header is then left unchanged).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DecrementTtl(Span<byte> packet)
    {
        int ttl = packet[8];
        if (ttl <= 1)
        {
            return 0;
        }

        uint m = BinaryPrimitives.ReadUInt16BigEndian(packet[8..]);
        uint mNew = m - 0x0100;
        uint hc = BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);
        uint sum = (~hc & 0xFFFF) + (~m & 0xFFFF) + mNew;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        packet[8] = (byte)(ttl - 1);
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], (ushort)~sum);
        return ttl - 1;
    }
}
