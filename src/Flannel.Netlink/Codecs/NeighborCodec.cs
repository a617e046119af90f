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
        neighbor = NeighborMessage.TryRead(payload, out var m) ? m.ToNeighbor() : null!;
        return neighbor is not null;
    }

    public static bool TryDecodeFdb(ushort type, ReadOnlySpan<byte> payload, out FdbEntry entry)
    {
        entry = FdbMessage.TryRead(payload, out var m) ? m.ToFdbEntry() : null!;
        return entry is not null;
    }
}
