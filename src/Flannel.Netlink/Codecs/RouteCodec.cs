using System.Net;
using System.Net.Sockets;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink.Codecs;

/// <summary>Route requests and replies (RTM_*ROUTE).</summary>
internal static class RouteCodec
{
    public static void EncodeNew(ref NetlinkWriter w, RouteSpec spec)
    {
        var dst = spec.Destination;
        var type = spec.Type ?? RouteType.Unicast;
        var scope = spec.Scope ?? (spec.Gateway is null && type == RouteType.Unicast && spec.Device is not null ? RouteScope.Link : RouteScope.Universe);
        var table = spec.Table ?? RouteTables.Main;
        w.WriteStruct(new RouteHeader
        {
            Family = Families.Of(dst.BaseAddress),
            DestinationLength = (byte)dst.PrefixLength,
            Table = table < 256 ? (byte)table : (byte)0,
            Protocol = (byte)(spec.Protocol ?? RouteProtocol.Boot),
            Scope = (byte)scope,
            Type = (byte)type,
            Flags = spec.OnLink ? Rta.FlagOnLink : 0,
        });
        WriteCommon(ref w, spec, table);
    }

    public static void EncodeDelete(ref NetlinkWriter w, RouteSpec spec)
    {
        var dst = spec.Destination;
        var table = spec.Table ?? RouteTables.Main;
        w.WriteStruct(new RouteHeader
        {
            Family = Families.Of(dst.BaseAddress),
            DestinationLength = (byte)dst.PrefixLength,
            Table = table < 256 ? (byte)table : (byte)0,
            Protocol = (byte)(spec.Protocol ?? RouteProtocol.Unspecified),
            Scope = (byte)RouteScope.Nowhere,
            Type = (byte)(spec.Type ?? RouteType.Unspecified),
        });
        WriteCommon(ref w, spec, table);
    }

    private static void WriteCommon(ref NetlinkWriter w, RouteSpec spec, uint table)
    {
        if (spec.Destination.PrefixLength > 0)
        {
            w.WriteAddress(Rta.Dst, spec.Destination.BaseAddress);
        }

        if (spec.Gateway is { } gw)
        {
            w.WriteAddress(Rta.Gateway, gw);
        }

        if (spec.Device is { } dev)
        {
            w.WriteUInt32(Rta.Oif, (uint)dev);
        }

        if (spec.PreferredSource is { } src)
        {
            w.WriteAddress(Rta.PrefSrc, src);
        }

        if (spec.Metric is { } metric)
        {
            w.WriteUInt32(Rta.Priority, metric);
        }

        if (table >= 256)
        {
            w.WriteUInt32(Rta.Table, table);
        }
    }

    public static void EncodeDump(ref NetlinkWriter w, RouteFilter? f)
    {
        var table = f?.Table ?? RouteTables.Main;
        w.WriteStruct(new RouteHeader
        {
            Family = Families.ToNative(f?.Family),
            Table = table < 256 ? (byte)table : (byte)0,
            Protocol = (byte)(f?.Protocol ?? 0),
            Type = (byte)(f?.Type ?? 0),
        });
        if (table != 0)
        {
            w.WriteUInt32(Rta.Table, table);
        }

        if (f?.Device is { } dev)
        {
            w.WriteUInt32(Rta.Oif, (uint)dev);
        }
    }

    public static void EncodeGet(ref NetlinkWriter w, IPAddress destination)
    {
        var v6 = destination.AddressFamily == AddressFamily.InterNetworkV6;
        w.WriteStruct(new RouteHeader { Family = v6 ? Nl.AF_INET6 : Nl.AF_INET, DestinationLength = (byte)(v6 ? 128 : 32) });
        w.WriteAddress(Rta.Dst, destination);
    }

    public static bool TryDecode(ushort type, ReadOnlySpan<byte> payload, out Route route)
    {
        if (!RouteMessage.TryRead(payload, out var m))
        {
            route = null!;
            return false;
        }

        route = m.ToRoute();
        return true;
    }

    /// <summary>The attributes <see cref="Route"/> has a property for; the others go to <see cref="Route.UnknownAttributes"/>.</summary>
    public static bool IsKnown(ushort type) => type is Rta.Dst or Rta.Gateway or Rta.Oif or Rta.PrefSrc or Rta.Priority or Rta.Table;
}
