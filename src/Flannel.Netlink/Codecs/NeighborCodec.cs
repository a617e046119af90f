using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink.Codecs;

/// <summary>Neighbour and FDB requests and replies (RTM_*NEIGH).</summary>
internal static class NeighborCodec
{
    public static void EncodeNew(ref NetlinkWriter w, NeighborSpec spec)
    {
        w.WriteStruct(new NeighborHeader
        {
            Family = Families.Of(spec.Address),
            Index = spec.InterfaceIndex,
            State = (ushort)spec.State,
            Type = (byte)RouteType.Unicast,
        });
        w.WriteAddress(Nda.Dst, spec.Address);
        w.WriteMac(Nda.LlAddr, spec.LinkAddress);
    }

    public static void EncodeDelete(ref NetlinkWriter w, (int Index, IPAddress Address) s)
    {
        w.WriteStruct(new NeighborHeader { Family = Families.Of(s.Address), Index = s.Index });
        w.WriteAddress(Nda.Dst, s.Address);
    }

    public static void EncodeFdb(ref NetlinkWriter w, FdbSpec spec)
    {
        w.WriteStruct(new NeighborHeader
        {
            Family = Nl.AF_BRIDGE,
            Index = spec.InterfaceIndex,
            State = (ushort)spec.State,
            Flags = (byte)NeighborFlags.Self,
        });
        w.WriteMac(Nda.LlAddr, spec.LinkAddress);
        w.WriteAddress(Nda.Dst, spec.Destination);
        if (spec.Port is { } port)
        {
            w.WriteUInt16BigEndian(Nda.Port, port);
        }

        if (spec.Vni is { } vni)
        {
            w.WriteUInt32(Nda.Vni, vni);
        }
    }

    public static void EncodeFdbDelete(ref NetlinkWriter w, FdbSpec spec)
    {
        w.WriteStruct(new NeighborHeader { Family = Nl.AF_BRIDGE, Index = spec.InterfaceIndex, Flags = (byte)NeighborFlags.Self });
        w.WriteMac(Nda.LlAddr, spec.LinkAddress);
        w.WriteAddress(Nda.Dst, spec.Destination);
        if (spec.Port is { } port)
        {
            w.WriteUInt16BigEndian(Nda.Port, port);
        }

        if (spec.Vni is { } vni)
        {
            w.WriteUInt32(Nda.Vni, vni);
        }
    }

    public static void EncodeDump(ref NetlinkWriter w, (byte Family, int? Index) f)
    {
        w.WriteStruct(new NeighborHeader { Family = f.Family });
        if (f.Index is { } ix)
        {
            w.WriteUInt32(Nda.IfIndex, (uint)ix);
        }
    }

    public static bool TryDecodeNeighbor(ushort type, ReadOnlySpan<byte> payload, out Neighbor neighbor)
    {
        var h = NetlinkMessageReader.ReadHeader<NeighborHeader>(payload, "ndmsg");
        neighbor = null!;
        if (h.Family != Nl.AF_INET && h.Family != Nl.AF_INET6)
        {
            return false;
        }

        IPAddress? dst = null;
        PhysicalAddress? ll = null;
        var r = new AttributeReader(payload[12..]);
        while (r.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case Nda.Dst: dst = Attr.Address(v, "NDA_DST"); break;
                case Nda.LlAddr: ll = Attr.Mac(v); break;
            }
        }

        if (dst is null)
        {
            return false;
        }

        neighbor = new Neighbor
        {
            InterfaceIndex = h.Index,
            Address = dst,
            LinkAddress = ll,
            State = (NeighborState)h.State,
            Flags = (NeighborFlags)h.Flags,
        };
        return true;
    }

    public static bool TryDecodeFdb(ushort type, ReadOnlySpan<byte> payload, out FdbEntry entry)
    {
        var h = NetlinkMessageReader.ReadHeader<NeighborHeader>(payload, "ndmsg");
        entry = null!;
        if (h.Family != Nl.AF_BRIDGE)
        {
            return false;
        }

        IPAddress? dst = null;
        PhysicalAddress? ll = null;
        ushort? port = null;
        uint? vni = null;
        int? master = null;
        var r = new AttributeReader(payload[12..]);
        while (r.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case Nda.Dst: dst = Attr.Address(v, "NDA_DST"); break;
                case Nda.LlAddr: ll = Attr.Mac(v); break;
                case Nda.Port: port = Attr.U16BigEndian(v, "NDA_PORT"); break;
                case Nda.Vni: vni = Attr.U32(v, "NDA_VNI"); break;
                case Nda.Master: master = (int)Attr.U32(v, "NDA_MASTER"); break;
            }
        }

        if (ll is null)
        {
            return false;
        }

        entry = new FdbEntry
        {
            InterfaceIndex = h.Index,
            LinkAddress = ll,
            Destination = dst,
            Port = port,
            Vni = vni,
            MasterIndex = master,
            State = (NeighborState)h.State,
            Flags = (NeighborFlags)h.Flags,
        };
        return true;
    }
}
