using Flannel.Udp.Packets;
using Xunit;

namespace Flannel.Udp.Tests;

public sealed class IcmpTests
{
    [Fact]
    public void Net_unreachable_reply_is_byte_exact()
    {
        // UDP 10.244.1.2:1000 -> 10.9.9.9:53, payload "abcdefghij" (8-byte UDP header + 10 bytes).
        var udp = new byte[] { 0x03, 0xE8, 0x00, 0x35, 0x00, 0x12, 0x00, 0x00, (byte)'a', (byte)'b', (byte)'c', (byte)'d', (byte)'e', (byte)'f', (byte)'g', (byte)'h', (byte)'i', (byte)'j' };
        var offending = PacketBuilder.Ipv4("10.244.1.2", "10.9.9.9", 17, udp, ttl: 64, id: 0x1234);
        var reply = new byte[IcmpUnreachable.MaxLength];
        int len = IcmpUnreachable.Write(offending, 0x0AF40100u /* 10.244.1.0 */, reply);

        Assert.Equal(56, len);
        byte[] expectedIp =
        [
            0x45, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00,
            10, 244, 1, 0, 10, 244, 1, 2,
        ];
        var ipHeader = (byte[])expectedIp.Clone();
        var ck = PacketBuilder.ReferenceChecksum(ipHeader);
        expectedIp[10] = (byte)(ck >> 8);
        expectedIp[11] = (byte)ck;
        Assert.Equal(expectedIp, reply[..20]);

        var icmp = new byte[8 + 28];
        icmp[0] = 3;
        icmp[1] = 0;
        offending.AsSpan(0, 28).CopyTo(icmp.AsSpan(8));
        var ick = PacketBuilder.ReferenceChecksum(icmp);
        icmp[2] = (byte)(ick >> 8);
        icmp[3] = (byte)ick;
        Assert.Equal(icmp, reply[20..56]);
    }

    [Fact]
    public void Short_offending_packet_is_quoted_whole()
    {
        var offending = PacketBuilder.Ipv4("10.244.1.2", "10.9.9.9", 17, new byte[3]);
        var reply = new byte[IcmpUnreachable.MaxLength];
        int len = IcmpUnreachable.Write(offending, 0x0AF40100u, reply);
        Assert.Equal(20 + 8 + 23, len);
        Assert.Equal(offending, reply[28..len]);
        Assert.Equal(0, PacketBuilder.ReferenceChecksum(reply.AsSpan(20, len - 20)));
    }

    [Fact]
    public void No_reply_to_icmp_errors_but_to_echo_requests()
    {
        var error = PacketBuilder.Ipv4("10.244.1.2", "10.9.9.9", 1, [3, 1, 0, 0, 0, 0, 0, 0]);
        var timeExceeded = PacketBuilder.Ipv4("10.244.1.2", "10.9.9.9", 1, [11, 0, 0, 0, 0, 0, 0, 0]);
        var echo = PacketBuilder.Ipv4("10.244.1.2", "10.9.9.9", 1, [8, 0, 0, 0, 0, 1, 0, 1]);
        Assert.False(IcmpUnreachable.MayReplyTo(error));
        Assert.False(IcmpUnreachable.MayReplyTo(timeExceeded));
        Assert.True(IcmpUnreachable.MayReplyTo(echo));
    }

    [Fact]
    public void No_reply_to_non_first_fragments_but_to_first_ones()
    {
        var later = PacketBuilder.Ipv4("10.244.1.2", "10.9.9.9", 17, new byte[16], flagsFrag: 0x2000 | 185);
        var first = PacketBuilder.Ipv4("10.244.1.2", "10.9.9.9", 17, new byte[16], flagsFrag: 0x2000);
        Assert.False(IcmpUnreachable.MayReplyTo(later));
        Assert.True(IcmpUnreachable.MayReplyTo(first));
    }

    [Theory]
    [InlineData("0.0.0.0", "10.9.9.9")]
    [InlineData("224.0.0.5", "10.9.9.9")]
    [InlineData("10.244.1.2", "239.1.1.1")]
    [InlineData("10.244.1.2", "255.255.255.255")]
    public void No_reply_about_unspecified_broadcast_or_multicast(string src, string dst) =>
        Assert.False(IcmpUnreachable.MayReplyTo(PacketBuilder.Ipv4(src, dst, 17, new byte[8])));
}
