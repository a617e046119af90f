using System.Buffers.Binary;
using CsCheck;
using Flannel.Udp.Packets;
using Xunit;

namespace Flannel.Udp.Tests;

public sealed class OffloadTests
{
    private sealed class Collect : IFrameSink
    {
        public List<(VirtioNetHeader Header, byte[] Packet)> Frames { get; } = [];

        public void Emit(in VirtioNetHeader header, ReadOnlySpan<byte> packet) => Frames.Add((header, packet.ToArray()));
    }

    private static byte[] SuperPacket(byte[] data, byte flags = 0x18) =>
        PacketBuilder.Tcp("10.244.1.1", "10.244.2.1", 1000, data, flags);

    [Fact]
    public void Segments_are_valid_packets_that_carry_the_payload_in_order()
    {
        Gen.Select(Gen.Byte.Array[1, 20000], Gen.Int[100, 1460]).Sample((data, mss) =>
        {
            var sp = SuperPacket(data);
            var dest = new byte[sp.Length + (((data.Length / mss) + 1) * 52)];
            int written = Offload.SegmentTcp(sp, mss, dest, out int segLen, out int count);
            Assert.True(written > 0);
            Assert.Equal((data.Length + mss - 1) / mss, count);
            var payload = new List<byte>();
            for (int i = 0; i < count; i++)
            {
                int len = Math.Min(segLen, written - (i * segLen));
                var seg = dest.AsSpan(i * segLen, len);
                Assert.Equal(len, BinaryPrimitives.ReadUInt16BigEndian(seg[2..]));
                Assert.Equal(63, seg[8]);
                Assert.True(PacketBuilder.IpHeaderValid(seg));
                Assert.True(PacketBuilder.TransportChecksumValid(seg));
                Assert.Equal(1000u + (uint)(i * mss), BinaryPrimitives.ReadUInt32BigEndian(seg[24..]));
                Assert.Equal(i == count - 1 ? 0x18 : 0x10, seg[33]);
                payload.AddRange(seg[52..].ToArray());
            }

            Assert.Equal(data, payload);
        }, iter: 200);
    }

    [Fact]
    public void Segmentation_rejects_what_is_not_ipv4_tcp()
    {
        var udp = PacketBuilder.Ipv4("10.244.1.1", "10.244.2.1", 17, new byte[100]);
        Assert.Equal(-1, Offload.SegmentTcp(udp, 50, new byte[1000], out _, out _));
        Assert.Equal(-1, Offload.SegmentTcp(SuperPacket(new byte[100]), 0, new byte[1000], out _, out _));
        Assert.Equal(-1, Offload.SegmentTcp(SuperPacket(new byte[3000]), 100, new byte[1000], out _, out _));
    }

    [Fact]
    public void Coalescing_the_segments_rebuilds_the_super_packet()
    {
        var data = new byte[14000];
        new Random(7).NextBytes(data);
        var sp = SuperPacket(data);
        var dest = new byte[20000];
        int written = Offload.SegmentTcp(sp, 1400, dest, out int segLen, out int count);
        var sink = new Collect();
        var c = new TcpCoalescer(sink);
        for (int i = 0; i < count; i++)
        {
            c.Add(dest.AsSpan(i * segLen, Math.Min(segLen, written - (i * segLen))));
        }

        c.Flush();
        var (h, p) = Assert.Single(sink.Frames);
        Assert.Equal(VirtioNetHeader.GsoTcpV4, h.GsoType);
        Assert.Equal(1400, h.GsoSize);
        Assert.Equal(52, h.HeaderLength);
        Assert.Equal(20, h.ChecksumStart);
        Assert.Equal(16, h.ChecksumOffset);
        Assert.Equal(sp.Length, p.Length);
        Assert.True(PacketBuilder.IpHeaderValid(p));
        Assert.Equal(data, p[52..]);
        Assert.Equal(0x18, p[33]); // PSH of the last segment kept
        // The checksum field holds the pseudo-header sum the kernel completes.
        ushort partial = BinaryPrimitives.ReadUInt16BigEndian(p.AsSpan(36));
        Assert.Equal((ushort)~PacketBuilder.ReferenceChecksum([], PacketBuilder.PseudoSum(p, 6, p.Length - 20)), partial);
    }

    [Fact]
    public void Coalescer_keeps_order_and_passes_through_what_it_cannot_merge()
    {
        var sink = new Collect();
        var c = new TcpCoalescer(sink);
        var a = PacketBuilder.Tcp("10.244.1.1", "10.244.2.1", 1000, new byte[100]);
        var b = PacketBuilder.Tcp("10.244.1.1", "10.244.2.1", 1100, new byte[100]);
        var gap = PacketBuilder.Tcp("10.244.1.1", "10.244.2.1", 5000, new byte[100]);
        var udp = PacketBuilder.Ipv4("10.244.1.1", "10.244.2.1", 17, new byte[30]);
        var bad = PacketBuilder.Tcp("10.244.1.1", "10.244.2.1", 5100, new byte[100]);
        bad[^1] ^= 0xFF; // corrupt payload: checksum fails
        var syn = PacketBuilder.Tcp("10.244.1.1", "10.244.2.1", 9, [], 0x02);
        foreach (var p in new[] { a, b, gap, udp, bad, syn })
        {
            c.Add(p);
        }

        c.Flush();
        Assert.Equal(5, sink.Frames.Count);
        Assert.Equal(VirtioNetHeader.GsoTcpV4, sink.Frames[0].Header.GsoType);
        Assert.Equal(20 + 32 + 200, sink.Frames[0].Packet.Length);
        Assert.Equal(gap, sink.Frames[1].Packet);
        Assert.Equal(0, sink.Frames[1].Header.GsoType);
        Assert.Equal(udp, sink.Frames[2].Packet);
        Assert.Equal(bad, sink.Frames[3].Packet);
        Assert.Equal(syn, sink.Frames[4].Packet);
    }

    [Fact]
    public void Completing_a_partial_checksum_gives_a_valid_packet()
    {
        var p = PacketBuilder.Ipv4("10.244.1.1", "10.244.2.1", 17, new byte[] { 0, 1, 0, 2, 0, 13, 0, 0, 1, 2, 3, 4, 5 });
        // Kernel-style partial: the field holds the folded pseudo-header sum.
        ushort pseudo = (ushort)~PacketBuilder.ReferenceChecksum([], PacketBuilder.PseudoSum(p, 17, 13));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(26), pseudo);
        Assert.True(Offload.CompleteChecksum(p, 20, 6));
        Assert.True(PacketBuilder.TransportChecksumValid(p));
        Assert.False(Offload.CompleteChecksum(p, 20, 100));
    }
}
