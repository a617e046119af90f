using System.Buffers.Binary;
using CsCheck;
using Flannel.Udp.Packets;
using Xunit;

namespace Flannel.Udp.Tests;

public sealed class ChecksumTests
{
    [Fact]
    public void Compute_matches_a_word_by_word_reference_on_any_length()
    {
        Gen.Byte.Array[0, 3000].Sample(data =>
        {
            ushort native = Checksum.Compute(data);
            var bytes = new byte[2];
            Checksum.Store(bytes, 0, native);
            Assert.Equal(PacketBuilder.ReferenceChecksum(data), BinaryPrimitives.ReadUInt16BigEndian(bytes));
        });
    }

    [Fact]
    public void Ttl_decrement_updates_the_checksum_exactly_as_a_full_recompute()
    {
        var gen = Gen.Select(Gen.Byte.Array[20], Gen.Byte[2, 255], Gen.Int[0, 10]);
        gen.Sample((header, ttl, optWords) =>
        {
            var h = new byte[20 + (optWords * 4)];
            header.CopyTo(h, 0);
            h[0] = (byte)(0x40 | (5 + optWords));
            h[8] = ttl;
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), 0);
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), PacketBuilder.ReferenceChecksum(h));

            Assert.Equal(ttl - 1, Checksum.DecrementTtl(h));
            Assert.Equal(ttl - 1, h[8]);
            var expected = (byte[])h.Clone();
            BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(10), 0);
            BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(10), PacketBuilder.ReferenceChecksum(expected));
            Assert.Equal(expected[10..12], h[10..12]);
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void Ttl_of_one_or_zero_expires_and_leaves_the_header_alone(byte ttl)
    {
        var p = PacketBuilder.Ipv4("10.244.1.2", "10.244.2.3", 17, new byte[8], ttl);
        var before = (byte[])p.Clone();
        Assert.Equal(0, Checksum.DecrementTtl(p));
        Assert.Equal(before, p);
    }

    [Fact]
    public void Header_checksum_recompute_matches_reference()
    {
        var p = PacketBuilder.Ipv4("10.244.1.2", "10.244.2.3", 17, new byte[8]);
        p[10] = 0xAB;
        Checksum.SetIpv4HeaderChecksum(p);
        Assert.True(PacketBuilder.IpHeaderValid(p));
    }
}
