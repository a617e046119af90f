using System.Buffers.Binary;
using Flannel.Netlink.Codecs;
using Flannel.Netlink.Protocol;
using Xunit;

namespace Flannel.Netlink.Tests;

/// <summary>
/// One table-driven harness feeds every decoder random bytes, truncations and corrupted lengths of valid messages:
/// each must decode or throw <see cref="NetlinkProtocolException"/> — never IndexOutOfRange, ArgumentException or
/// NullReference. Each row records which decoder ran, so a row cannot silently test the wrong one.
/// </summary>
public class FuzzTests
{
    private delegate void Decode(ReadOnlySpan<byte> data, List<string> called);

    private static readonly (string Name, Decode Run, byte[] Seed)[] Decoders =
    [
        ("link", (d, c) => { c.Add("link"); LinkCodec.TryDecode(Nl.RTM_NEWLINK, d, out _); }, Seeds.Link()),
        ("vxlan", (d, c) => { c.Add("vxlan"); LinkCodec.DecodeVxlan(d); }, Seeds.Link()[16..]),
        ("address", (d, c) => { c.Add("address"); AddressCodec.TryDecode(Nl.RTM_NEWADDR, d, out _); }, Seeds.Address()),
        ("route", (d, c) => { c.Add("route"); RouteCodec.TryDecode(Nl.RTM_NEWROUTE, d, out _); }, Seeds.Route()),
        ("neighbor", (d, c) => { c.Add("neighbor"); NeighborCodec.TryDecodeNeighbor(Nl.RTM_NEWNEIGH, d, out _); }, Seeds.Neighbor()),
        ("fdb", (d, c) => { c.Add("fdb"); NeighborCodec.TryDecodeFdb(Nl.RTM_NEWNEIGH, d, out _); }, Seeds.Fdb()),
        ("events", (d, c) => { c.Add("events"); RtnetlinkClient.DecodeEvents(d, []); }, Seeds.Datagram()),
        ("ack", (d, c) => { c.Add("ack"); RtnetlinkClient.ScanAck(d, 1, Nl.RTM_NEWROUTE, true); }, Seeds.Error()),
    ];

    public static TheoryData<string> Names() => new(Decoders.Select(d => d.Name));

    private static void Feed(string name, ReadOnlySpan<byte> data)
    {
        var row = Decoders.Single(d => d.Name == name);
        var called = new List<string>();
        try
        {
            row.Run(data, called);
        }
        catch (NetlinkProtocolException)
        {
        }
        catch (NetlinkException)
        {
            // a well-formed error reply inside random bytes is legitimate
        }

        Assert.Equal([name], called);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void SeedDecodes(string name)
    {
        var row = Decoders.Single(d => d.Name == name);
        Feed(name, row.Seed);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryTruncationIsDecodedOrRejectedCleanly(string name)
    {
        var seed = Decoders.Single(d => d.Name == name).Seed;
        for (var len = 0; len <= seed.Length; len++)
        {
            Feed(name, seed.AsSpan(0, len));
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RandomBytesAndCorruptedSeedsNeverCrash(string name)
    {
        var seed = Decoders.Single(d => d.Name == name).Seed;
        var random = new Random(20261126 + name.Length);
        for (var i = 0; i < 3000; i++)
        {
            byte[] data;
            if (i % 2 == 0)
            {
                data = new byte[random.Next(0, 200)];
                random.NextBytes(data);
            }
            else
            {
                data = (byte[])seed.Clone();
                for (var k = 0; k < 1 + random.Next(4); k++)
                {
                    if (data.Length > 0)
                    {
                        data[random.Next(data.Length)] = (byte)random.Next(256);
                    }
                }
            }

            Feed(name, data);
        }
    }

    [Fact]
    public void MalformedReplyGivesAProtocolExceptionThatNamesTheProblem()
    {
        var seed = Seeds.Route();
        BinaryPrimitives.WriteUInt16LittleEndian(seed.AsSpan(12), 200); // first attribute claims 200 bytes
        var ex = Assert.Throws<NetlinkProtocolException>(() => RouteCodec.TryDecode(Nl.RTM_NEWROUTE, seed, out _));
        Assert.Contains("invalid length 200", ex.Message, StringComparison.Ordinal);
        var dg = Seeds.Datagram();
        BinaryPrimitives.WriteUInt32LittleEndian(dg, 9999);
        Assert.Throws<NetlinkProtocolException>(() => RtnetlinkClient.DecodeEvents(dg, []));
    }

    private static class Seeds
    {
        private static byte[] Payload<T>(RtnetlinkClient.Encoder<T> e, T s)
        {
            var b = new byte[1024];
            var w = new NetlinkWriter(b);
            e(ref w, s);
            return b[..w.Position];
        }

        public static byte[] Link() => Payload(LinkCodec.EncodeCreate, (LinkSpec)new VxlanLinkSpec("flannel.1", 1) { Port = 8472, Local = System.Net.IPAddress.Loopback, Learning = false, Mtu = 1450 });

        public static byte[] Address() => Payload(AddressCodec.Encode, new AddressSpec(2, System.Net.IPAddress.Parse("10.1.2.3"), 24) { Label = "eth0" });

        public static byte[] Route() => Payload(RouteCodec.EncodeNew, new RouteSpec(System.Net.IPNetwork.Parse("10.1.0.0/16")) { Gateway = System.Net.IPAddress.Parse("10.1.0.1"), Device = 3, Metric = 5 });

        public static byte[] Neighbor() => Payload(NeighborCodec.EncodeNew, new NeighborSpec(2, System.Net.IPAddress.Parse("10.1.2.3"), System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01")));

        public static byte[] Fdb() => Payload(NeighborCodec.EncodeFdb, new FdbSpec(2, System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01"), System.Net.IPAddress.Parse("10.1.2.3")) { Port = 8472, Vni = 1 });

        public static byte[] Datagram()
        {
            var b = new byte[2048];
            var w = new NetlinkWriter(b);
            var s = w.BeginMessage(Nl.RTM_NEWROUTE, 0, 0);
            RouteCodec.EncodeNew(ref w, new RouteSpec(System.Net.IPNetwork.Parse("10.1.0.0/16")) { Device = 3 });
            w.EndMessage(s);
            s = w.BeginMessage(Nl.RTM_DELNEIGH, 0, 0);
            NeighborCodec.EncodeFdb(ref w, new FdbSpec(2, System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-00-00-00-01"), System.Net.IPAddress.Parse("10.1.2.3")));
            w.EndMessage(s);
            s = w.BeginMessage(Nl.RTM_NEWLINK, 0, 0);
            LinkCodec.EncodeCreate(ref w, new BridgeLinkSpec("br0"));
            w.EndMessage(s);
            s = w.BeginMessage(Nl.RTM_NEWADDR, 0, 0);
            AddressCodec.Encode(ref w, new AddressSpec(2, System.Net.IPAddress.Parse("fd00::1"), 64));
            w.EndMessage(s);
            return b[..w.Position];
        }

        public static byte[] Error()
        {
            var b = new byte[256];
            var w = new NetlinkWriter(b);
            var s = w.BeginMessage(Nl.NLMSG_ERROR, Nl.NLM_F_CAPPED | Nl.NLM_F_ACK_TLVS, 1);
            w.WriteStruct(-22);
            w.WriteStruct(new NetlinkHeader { Length = 40, Type = Nl.RTM_NEWROUTE, Sequence = 1 });
            w.WriteString(Nl.NLMSGERR_ATTR_MSG, "bad");
            w.EndMessage(s);
            return b[..w.Position];
        }
    }
}
