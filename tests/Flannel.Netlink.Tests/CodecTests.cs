using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.CompilerServices;
using Flannel.Netlink.Codecs;
using Flannel.Netlink.Protocol;
using Xunit;

namespace Flannel.Netlink.Tests;

/// <summary>Unprivileged codec tests: layouts, round trips through the request encoders and the reply decoders, errors.</summary>
public class CodecTests
{
    private static byte[] Encode<T>(RtnetlinkClient.Encoder<T> encode, T state, ushort type = Nl.RTM_NEWROUTE)
    {
        var buffer = new byte[4096];
        var w = new NetlinkWriter(buffer);
        var start = w.BeginMessage(type, Nl.NLM_F_REQUEST, 7);
        encode(ref w, state);
        w.EndMessage(start);
        return buffer[..w.Position];
    }

    private static ReadOnlySpan<byte> Payload(byte[] message) => message.AsSpan(Nl.HeaderSize);

    [Fact]
    public void WireStructsHaveKernelLayouts()
    {
        Assert.Equal(16, Unsafe.SizeOf<NetlinkHeader>());
        Assert.Equal(16, Unsafe.SizeOf<LinkHeader>());
        Assert.Equal(8, Unsafe.SizeOf<AddressHeader>());
        Assert.Equal(12, Unsafe.SizeOf<RouteHeader>());
        Assert.Equal(12, Unsafe.SizeOf<NeighborHeader>());
    }

    [Fact]
    public void RouteRoundTrip()
    {
        var spec = new RouteSpec(IPNetwork.Parse("10.244.3.0/24"))
        {
            Gateway = IPAddress.Parse("10.244.3.0"),
            Device = 5,
            OnLink = true,
            Protocol = RouteProtocol.Static,
            Table = 1000,
            PreferredSource = IPAddress.Parse("198.18.0.1"),
            Metric = 42,
        };
        var msg = Encode(RouteCodec.EncodeNew, spec);
        Assert.Equal((uint)msg.Length, BinaryPrimitives.ReadUInt32LittleEndian(msg));
        Assert.True(RouteCodec.TryDecode(Nl.RTM_NEWROUTE, Payload(msg), out var r));
        Assert.Equal(spec.Destination, r.Destination);
        Assert.Equal(spec.Gateway, r.Gateway);
        Assert.Equal(5, r.OutputInterface);
        Assert.True(r.OnLink);
        Assert.Equal(RouteProtocol.Static, r.Protocol);
        Assert.Equal(1000u, r.Table);
        Assert.Equal(spec.PreferredSource, r.PreferredSource);
        Assert.Equal(42u, r.Metric);
        Assert.Equal(RouteScope.Universe, r.Scope);
        Assert.Equal(RouteType.Unicast, r.Type);

        var v6 = Encode(RouteCodec.EncodeNew, new RouteSpec(IPNetwork.Parse("fd00:1::/64")) { Device = 3 });
        Assert.True(RouteCodec.TryDecode(Nl.RTM_NEWROUTE, Payload(v6), out var r6));
        Assert.Equal(IPNetwork.Parse("fd00:1::/64"), r6.Destination);
        Assert.Equal(RouteScope.Link, r6.Scope); // a device route without gateway defaults to link scope

        var def = Encode(RouteCodec.EncodeNew, new RouteSpec(IPNetwork.Parse("0.0.0.0/0")) { Gateway = IPAddress.Parse("198.18.0.254") });
        Assert.True(RouteCodec.TryDecode(Nl.RTM_NEWROUTE, Payload(def), out var rd));
        Assert.Equal(IPNetwork.Parse("0.0.0.0/0"), rd.Destination);
    }

    [Fact]
    public void VxlanLinkRoundTripAndEndianness()
    {
        var spec = new VxlanLinkSpec("flannel.1", 0x010203)
        {
            Local = IPAddress.Parse("198.18.0.1"),
            Device = 2,
            Port = 8472,
            Learning = false,
            Gbp = true,
            Ttl = 9,
            Mtu = 1450,
            MacAddress = PhysicalAddress.Parse("02-00-00-00-00-01"),
        };
        var msg = Encode(LinkCodec.EncodeCreate, (LinkSpec)spec, Nl.RTM_NEWLINK);
        // port is big-endian on the wire: 8472 = 0x2118 → 21 18; the VNI is host order: 03 02 01 00
        var hex = Convert.ToHexString(msg);
        Assert.Contains("06000F002118", hex, StringComparison.Ordinal);
        Assert.Contains("0800010003020100", hex, StringComparison.Ordinal);
        Assert.True(LinkCodec.TryDecode(Nl.RTM_NEWLINK, Payload(msg), out var link));
        Assert.Equal("flannel.1", link.Name);
        Assert.Equal("vxlan", link.Kind);
        Assert.Equal(1450, link.Mtu);
        Assert.Equal(spec.MacAddress, link.MacAddress);
        var v = link.Vxlan!;
        Assert.Equal(0x010203u, v.Vni);
        Assert.Equal(spec.Local, v.Local);
        Assert.Equal(2, v.Device);
        Assert.Equal((ushort)8472, v.Port);
        Assert.False(v.Learning);
        Assert.True(v.Gbp);
        Assert.Equal((byte)9, v.Ttl);

        // unset attributes are not emitted at all
        var bare = Encode(LinkCodec.EncodeCreate, (LinkSpec)new VxlanLinkSpec("vx0", 1), Nl.RTM_NEWLINK);
        Assert.True(LinkCodec.TryDecode(Nl.RTM_NEWLINK, Payload(bare), out var b));
        Assert.Equal(new VxlanInfo { Vni = 1, UnknownAttributes = b.Vxlan!.UnknownAttributes }, b.Vxlan);
        Assert.Empty(b.Vxlan.UnknownAttributes);
    }

    [Fact]
    public void UnknownAttributesArePreserved()
    {
        var buffer = new byte[256];
        var w = new NetlinkWriter(buffer);
        w.WriteStruct(new LinkHeader { Index = 3 });
        w.WriteString(Ifla.IfName, "x0");
        w.WriteUInt32(200, 0xdeadbeef);
        var info = w.BeginNested(Ifla.LinkInfo);
        w.WriteString(Ifla.InfoKind, "vxlan");
        var data = w.BeginNested(Ifla.InfoData);
        w.WriteUInt32(VxlanAttr.Id, 5);
        w.WriteUInt16(99, 7);
        w.EndNested(data);
        w.EndNested(info);
        Assert.True(LinkCodec.TryDecode(Nl.RTM_NEWLINK, buffer.AsSpan(0, w.Position), out var link));
        var raw = Assert.Single(link.UnknownAttributes);
        Assert.Equal(200, raw.Type);
        Assert.Equal(0xdeadbeef, BinaryPrimitives.ReadUInt32LittleEndian(raw.Value));
        Assert.Equal(99, Assert.Single(link.Vxlan!.UnknownAttributes).Type);
    }

    [Fact]
    public void A_neighbour_with_an_empty_link_address_keeps_it_and_one_without_has_none()
    {
        // A NOARP device (a TUN) reports NDA_LLADDR with no bytes: present but empty, as before the in-place views.
        static byte[] Neighbor(bool withLl)
        {
            var b = new byte[256];
            var w = new NetlinkWriter(b);
            var start = w.BeginMessage(Nl.RTM_NEWNEIGH, 0, 1);
            w.WriteStruct(new NeighborHeader { Family = Nl.AF_INET, Index = 5, State = (ushort)NeighborState.Permanent });
            w.WriteAddress(Nda.Dst, IPAddress.Parse("10.244.9.0"));
            if (withLl)
            {
                w.WriteBytes(Nda.LlAddr, []);
            }

            w.EndMessage(start);
            return b[..w.Position];
        }

        Assert.True(NeighborCodec.TryDecodeNeighbor(Nl.RTM_NEWNEIGH, Payload(Neighbor(withLl: true)), out var empty));
        Assert.NotNull(empty.LinkAddress);
        Assert.Empty(empty.LinkAddress.GetAddressBytes());
        Assert.True(NeighborCodec.TryDecodeNeighbor(Nl.RTM_NEWNEIGH, Payload(Neighbor(withLl: false)), out var none));
        Assert.Null(none.LinkAddress);
    }

    [Fact]
    public void NeighborFdbAndAddressRoundTrip()
    {
        var n = Encode(NeighborCodec.EncodeNew, new NeighborSpec(4, IPAddress.Parse("fd00::9"), PhysicalAddress.Parse("02-a0-00-00-00-01")), Nl.RTM_NEWNEIGH);
        Assert.True(NeighborCodec.TryDecodeNeighbor(Nl.RTM_NEWNEIGH, Payload(n), out var nb));
        Assert.Equal(IPAddress.Parse("fd00::9"), nb.Address);
        Assert.Equal(NeighborState.Permanent, nb.State);
        Assert.Equal(4, nb.InterfaceIndex);
        Assert.False(NeighborCodec.TryDecodeFdb(Nl.RTM_NEWNEIGH, Payload(n), out _));

        var f = Encode(NeighborCodec.EncodeFdb, new FdbSpec(6, PhysicalAddress.Parse("02-a0-00-00-00-02"), IPAddress.Parse("198.18.0.2")) { Port = 4789, Vni = 77 }, Nl.RTM_NEWNEIGH);
        Assert.True(NeighborCodec.TryDecodeFdb(Nl.RTM_NEWNEIGH, Payload(f), out var fe));
        Assert.Equal(IPAddress.Parse("198.18.0.2"), fe.Destination);
        Assert.Equal((ushort)4789, fe.Port);
        Assert.Equal(77u, fe.Vni);
        Assert.Equal(NeighborFlags.Self, fe.Flags);
        Assert.False(NeighborCodec.TryDecodeNeighbor(Nl.RTM_NEWNEIGH, Payload(f), out _));

        var a = Encode(AddressCodec.Encode, new AddressSpec(3, IPAddress.Parse("10.244.1.7"), 16) { Label = "br0" }, Nl.RTM_NEWADDR);
        Assert.True(AddressCodec.TryDecode(Nl.RTM_NEWADDR, Payload(a), out var ad));
        Assert.Equal(IPAddress.Parse("10.244.1.7"), ad.Address);
        Assert.Equal(16, ad.PrefixLength);
        Assert.Equal(IPNetwork.Parse("10.244.0.0/16"), ad.Network);
        Assert.Equal("br0", ad.Label);
        Assert.Null(ad.Peer);
    }

    [Fact]
    public void ErrorRepliesCarryErrnoExtendedAckAndSequence()
    {
        var buffer = new byte[256];
        var w = new NetlinkWriter(buffer);
        var start = w.BeginMessage(Nl.NLMSG_ERROR, Nl.NLM_F_CAPPED | Nl.NLM_F_ACK_TLVS, 31);
        w.WriteStruct(-17); // -EEXIST
        w.WriteStruct(new NetlinkHeader { Length = 60, Type = Nl.RTM_NEWROUTE, Sequence = 31 });
        w.WriteString(Nl.NLMSGERR_ATTR_MSG, "Route exists");
        w.WriteUInt32(Nl.NLMSGERR_ATTR_OFFS, 36);
        w.EndMessage(start);
        var len = w.Position;
        var ex = Assert.Throws<NetlinkException>(() => RtnetlinkClient.ScanAck(buffer.AsSpan(0, len), 31, Nl.RTM_NEWROUTE, missingIsFalse: false));
        Assert.Equal(Errno.EEXIST, ex.Error);
        Assert.Equal("Route exists", ex.ExtendedAckMessage);
        Assert.Equal(36, ex.ExtendedAckOffset);
        Assert.Equal(31u, ex.Sequence);
        Assert.Equal("RTM_NEWROUTE", ex.Operation);
        Assert.StartsWith("RTM_NEWROUTE failed: EEXIST", ex.Message, StringComparison.Ordinal);
        // other sequence numbers (stale replies) are skipped
        Assert.Equal(0, RtnetlinkClient.ScanAck(buffer.AsSpan(0, len), 32, Nl.RTM_NEWROUTE, false));
    }

    [Fact]
    public void DeletesOfMissingObjectsAreFalseNotErrors()
    {
        var buffer = new byte[64];
        var w = new NetlinkWriter(buffer);
        var start = w.BeginMessage(Nl.NLMSG_ERROR, Nl.NLM_F_CAPPED, 5);
        w.WriteStruct(-3); // -ESRCH
        w.WriteStruct(new NetlinkHeader { Length = 16, Type = Nl.RTM_DELROUTE, Sequence = 5 });
        w.EndMessage(start);
        Assert.Equal(-1, RtnetlinkClient.ScanAck(buffer.AsSpan(0, w.Position), 5, Nl.RTM_DELROUTE, missingIsFalse: true));
    }

    [Fact]
    public void EncodingAndDecodingAnAckAllocateNothing()
    {
        var spec = new RouteSpec(IPNetwork.Parse("10.244.3.0/24")) { Gateway = IPAddress.Parse("10.244.3.0"), Device = 5, OnLink = true };
        var fdb = new FdbSpec(6, PhysicalAddress.Parse("02-a0-00-00-00-02"), IPAddress.Parse("198.18.0.2"));
        var buffer = new byte[512];
        var ack = new byte[36];
        BinaryPrimitives.WriteUInt32LittleEndian(ack, 36);
        BinaryPrimitives.WriteUInt16LittleEndian(ack.AsSpan(4), Nl.NLMSG_ERROR);
        BinaryPrimitives.WriteUInt32LittleEndian(ack.AsSpan(8), 9);
        void Once()
        {
            var w = new NetlinkWriter(buffer);
            var s = w.BeginMessage(Nl.RTM_NEWROUTE, Nl.NLM_F_REQUEST, 9);
            RouteCodec.EncodeNew(ref w, spec);
            w.EndMessage(s);
            w = new NetlinkWriter(buffer);
            s = w.BeginMessage(Nl.RTM_NEWNEIGH, Nl.NLM_F_REQUEST, 9);
            NeighborCodec.EncodeFdb(ref w, fdb);
            w.EndMessage(s);
            if (RtnetlinkClient.ScanAck(ack, 9, Nl.RTM_NEWROUTE, false) != 1)
            {
                throw new InvalidOperationException("ack not recognised");
            }
        }

        Once();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Once();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}

public class DumpTests
{
    private static byte[] Dump(ushort flags, bool done)
    {
        var b = new byte[1024];
        var w = new NetlinkWriter(b);
        var s = w.BeginMessage(Nl.RTM_NEWROUTE, (ushort)(Nl.NLM_F_MULTI | flags), 3);
        RouteCodec.EncodeNew(ref w, new RouteSpec(System.Net.IPNetwork.Parse("10.1.0.0/16")) { Device = 2 });
        w.EndMessage(s);
        if (done)
        {
            s = w.BeginMessage(Nl.NLMSG_DONE, Nl.NLM_F_MULTI, 3);
            w.WriteStruct(0);
            w.EndMessage(s);
        }

        return b[..w.Position];
    }

    [Fact]
    public void InterruptedDumpIsFlaggedForRetryAndDoneEndsIt()
    {
        var items = new ListSink<Route>(RouteCodec.TryDecode);
        var interrupted = false;
        Assert.False(RtnetlinkClient.ScanDump(Dump(0, done: false), 3, Nl.RTM_GETROUTE, items, ref interrupted));
        Assert.False(interrupted);
        Assert.True(RtnetlinkClient.ScanDump(Dump(Nl.NLM_F_DUMP_INTR, done: true), 3, Nl.RTM_GETROUTE, items, ref interrupted));
        Assert.True(interrupted);
        Assert.Equal(2, items.Items.Count);
        // messages of another (stale) request are ignored
        var other = new ListSink<Route>(RouteCodec.TryDecode);
        var i2 = false;
        Assert.False(RtnetlinkClient.ScanDump(Dump(0, done: true), 4, Nl.RTM_GETROUTE, other, ref i2));
        Assert.Empty(other.Items);
    }
}
