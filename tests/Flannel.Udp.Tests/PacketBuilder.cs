using System.Buffers.Binary;
using System.Net;

namespace Flannel.Udp.Tests;

/// <summary>Builds test packets with a from-scratch (big-endian, word by word) checksum, independent of the code under test.</summary>
internal static class PacketBuilder
{
    public static ushort ReferenceChecksum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        uint sum = initial;
        for (int i = 0; i + 1 < data.Length; i += 2)
        {
            sum += (uint)((data[i] << 8) | data[i + 1]);
        }

        if (data.Length % 2 == 1)
        {
            sum += (uint)(data[^1] << 8);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    public static uint PseudoSum(ReadOnlySpan<byte> ip, byte proto, int length) =>
        (uint)((ip[12] << 8) | ip[13]) + (uint)((ip[14] << 8) | ip[15]) + (uint)((ip[16] << 8) | ip[17]) + (uint)((ip[18] << 8) | ip[19]) + proto + (uint)length;

    public static bool IpHeaderValid(ReadOnlySpan<byte> p) => ReferenceChecksum(p[..((p[0] & 15) * 4)]) == 0;

    public static bool TransportChecksumValid(ReadOnlySpan<byte> p)
    {
        int ihl = (p[0] & 15) * 4;
        return ReferenceChecksum(p[ihl..], PseudoSum(p, p[9], p.Length - ihl)) == 0;
    }

    public static byte[] Ipv4(string src, string dst, byte proto, ReadOnlySpan<byte> payload, byte ttl = 64, ushort id = 0x1234, ushort flagsFrag = 0x4000)
    {
        var p = new byte[20 + payload.Length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), flagsFrag);
        p[8] = ttl;
        p[9] = proto;
        IPAddress.Parse(src).TryWriteBytes(p.AsSpan(12), out _);
        IPAddress.Parse(dst).TryWriteBytes(p.AsSpan(16), out _);
        payload.CopyTo(p.AsSpan(20));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), ReferenceChecksum(p.AsSpan(0, 20)));
        return p;
    }

    public static byte[] Tcp(string src, string dst, uint seq, ReadOnlySpan<byte> data, byte flags = 0x10, ushort sport = 40000, ushort dport = 5201, byte ttl = 64, ushort id = 1)
    {
        var tcp = new byte[32 + data.Length]; // 12 bytes of options (NOP NOP timestamp)
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), 777);
        tcp[12] = 8 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 502);
        tcp[20] = 1;
        tcp[21] = 1;
        tcp[22] = 8;
        tcp[23] = 10;
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(24), 1000);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(28), 2000);
        data.CopyTo(tcp.AsSpan(32));
        var p = Ipv4(src, dst, 6, tcp, ttl, id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(36), ReferenceChecksum(p.AsSpan(20), PseudoSum(p, 6, tcp.Length)));
        return p;
    }
}
