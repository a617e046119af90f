using System.Buffers.Binary;
using Flannel.Udp.Packets;
using Xunit;

namespace Flannel.Udp.Tests;

public sealed class ValidationTests
{
    private static byte[] Good() => PacketBuilder.Ipv4("10.244.1.2", "10.244.2.3", 17, new byte[12]);

    [Fact]
    public void A_well_formed_packet_passes() => Assert.Null(Ipv4.Validate(Good()));

    [Fact]
    public void Shorter_than_a_header_is_truncated() => Assert.Equal(DropReason.Truncated, Ipv4.Validate(Good().AsSpan(0, 19)));

    [Fact]
    public void Empty_is_truncated() => Assert.Equal(DropReason.Truncated, Ipv4.Validate([]));

    [Fact]
    public void Version_6_is_rejected()
    {
        var p = Good();
        p[0] = 0x65;
        Assert.Equal(DropReason.BadVersion, Ipv4.Validate(p));
    }

    [Fact]
    public void Ihl_below_5_is_rejected()
    {
        var p = Good();
        p[0] = 0x44;
        Assert.Equal(DropReason.BadHeaderLength, Ipv4.Validate(p));
    }

    [Fact]
    public void Ihl_beyond_the_buffer_is_truncated()
    {
        var p = Good()[..24];
        p[0] = 0x4F; // 60-byte header in 24 bytes
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 24);
        Assert.Equal(DropReason.Truncated, Ipv4.Validate(p));
    }

    [Theory]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(20)]
    [InlineData(65535)]
    public void Total_length_other_than_the_datagram_size_is_a_mismatch(int declared)
    {
        var p = Good(); // 32 bytes
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)declared);
        Checksum.SetIpv4HeaderChecksum(p);
        Assert.Equal(DropReason.LengthMismatch, Ipv4.Validate(p));
    }

    [Fact]
    public void A_wrong_header_checksum_is_rejected()
    {
        var p = Good();
        p[11] ^= 0x01;
        Assert.Equal(DropReason.BadChecksum, Ipv4.Validate(p));
    }
}
