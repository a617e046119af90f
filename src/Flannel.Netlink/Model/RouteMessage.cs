using System.Net;
using System.Net.Sockets;
using Flannel.Netlink.Codecs;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink;

/// <summary>
/// A route as the kernel sent it (RTM_NEWROUTE), read in place from the receive buffer: nothing is allocated, and the
/// spans are valid only during the <see cref="IRouteVisitor.Visit"/> call that receives it. Call <see cref="ToRoute"/>
/// to keep it. It is what <see cref="RtnetlinkRoutes.VisitAsync"/> hands out, for reconcilers that compare a large
/// table against what they expect without materialising it.
/// </summary>
/// <example>
/// <code>
/// sealed class Counter : IRouteVisitor
/// {
///     public int OnDevice;
///     public int Index;
///     public void OnDumpStarted() => OnDevice = 0;
///     public void Visit(in RouteMessage route) { if (route.OutputInterface == Index) OnDevice++; }
/// }
/// </code>
/// </example>
public readonly ref struct RouteMessage
{
    private static readonly byte[] Zero = new byte[16];
    private readonly RouteHeader _header;
    private readonly ReadOnlySpan<byte> _attributes;
    private readonly ReadOnlySpan<byte> _destination;

    private RouteMessage(RouteHeader header, ReadOnlySpan<byte> attributes, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> gateway, ReadOnlySpan<byte> preferredSource, int? oif, uint? metric, uint table)
    {
        _header = header;
        _attributes = attributes;
        _destination = destination;
        Gateway = gateway;
        PreferredSource = preferredSource;
        OutputInterface = oif;
        Metric = metric;
        Table = table;
    }

    /// <summary>The address family (InterNetwork or InterNetworkV6).</summary>
    public AddressFamily Family => _header.Family == Nl.AF_INET ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    /// <summary>The destination address in network byte order (RTA_DST): 4 or 16 bytes, all zero for a default route.</summary>
    public ReadOnlySpan<byte> Destination => _destination.IsEmpty ? Zero.AsSpan(0, _header.Family == Nl.AF_INET ? 4 : 16) : _destination;

    /// <summary>The destination prefix length (rtm_dst_len).</summary>
    public int DestinationLength => _header.DestinationLength;

    /// <summary>The gateway address in network byte order (RTA_GATEWAY); empty when the route has none.</summary>
    public ReadOnlySpan<byte> Gateway { get; }

    /// <summary>RTA_OIF.</summary>
    public int? OutputInterface { get; }

    /// <summary>The table (RTA_TABLE, or rtm_table).</summary>
    public uint Table { get; }

    /// <summary>rtm_protocol.</summary>
    public RouteProtocol Protocol => (RouteProtocol)_header.Protocol;

    /// <summary>rtm_scope.</summary>
    public RouteScope Scope => (RouteScope)_header.Scope;

    /// <summary>rtm_type.</summary>
    public RouteType Type => (RouteType)_header.Type;

    /// <summary>rtm_flags.</summary>
    public uint Flags => _header.Flags;

    /// <summary>True when RTNH_F_ONLINK is set.</summary>
    public bool OnLink => (_header.Flags & Rta.FlagOnLink) != 0;

    /// <summary>The preferred source address in network byte order (RTA_PREFSRC); empty when absent.</summary>
    public ReadOnlySpan<byte> PreferredSource { get; }

    /// <summary>RTA_PRIORITY (the metric).</summary>
    public uint? Metric { get; }

    /// <summary>Copies the message into a <see cref="Route"/> (allocates).</summary>
    /// <returns>The route, with its destination masked to the prefix length and undecoded attributes preserved.</returns>
    public Route ToRoute()
    {
        List<RawAttribute>? unknown = null;
        var r = new AttributeReader(_attributes);
        while (r.TryRead(out var t, out var v))
        {
            if (!RouteCodec.IsKnown(t))
            {
                (unknown ??= []).Add(new RawAttribute(t, v.ToArray()));
            }
        }

        return new Route
        {
            Family = Family,
            Destination = Families.Network(Destination, DestinationLength, "rtm_dst_len"),
            Gateway = Gateway.IsEmpty ? null : new IPAddress(Gateway),
            OutputInterface = OutputInterface,
            Table = Table,
            Protocol = Protocol,
            Scope = Scope,
            Type = Type,
            Flags = Flags,
            PreferredSource = PreferredSource.IsEmpty ? null : new IPAddress(PreferredSource),
            Metric = Metric,
            UnknownAttributes = (IReadOnlyList<RawAttribute>?)unknown ?? [],
        };
    }

    /// <summary>Reads an RTM_NEWROUTE payload; false for families other than IPv4/IPv6; throws <see cref="NetlinkProtocolException"/> naming the bad field.</summary>
    internal static bool TryRead(ReadOnlySpan<byte> payload, out RouteMessage message)
    {
        var h = NetlinkMessageReader.ReadHeader<RouteHeader>(payload, "rtmsg");
        if (h.Family != Nl.AF_INET && h.Family != Nl.AF_INET6)
        {
            message = default;
            return false;
        }

        var len = h.Family == Nl.AF_INET ? 4 : 16;
        if (h.DestinationLength > len * 8)
        {
            throw new NetlinkProtocolException($"rtm_dst_len prefix length {h.DestinationLength} is larger than {len * 8}");
        }

        ReadOnlySpan<byte> dst = default, gw = default, src = default;
        int? oif = null;
        uint? metric = null;
        uint table = h.Table;
        var attributes = payload[12..];
        var r = new AttributeReader(attributes);
        while (r.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case Rta.Dst:
                    if (v.Length != len)
                    {
                        throw new NetlinkProtocolException($"RTA_DST has {v.Length} bytes, expected {len} for family {h.Family}");
                    }

                    dst = v;
                    break;
                case Rta.Gateway: gw = Attr.AddressBytes(v, "RTA_GATEWAY"); break;
                case Rta.Oif: oif = (int)Attr.U32(v, "RTA_OIF"); break;
                case Rta.PrefSrc: src = Attr.AddressBytes(v, "RTA_PREFSRC"); break;
                case Rta.Priority: metric = Attr.U32(v, "RTA_PRIORITY"); break;
                case Rta.Table: table = Attr.U32(v, "RTA_TABLE"); break;
            }
        }

        message = new RouteMessage(h, attributes, dst, gw, src, oif, metric, table);
        return true;
    }
}

/// <summary>Receives the routes of a dump one by one (<see cref="RtnetlinkRoutes.VisitAsync"/>), read in place.</summary>
public interface IRouteVisitor
{
    /// <summary>
    /// Called before the first route, and again when the kernel interrupted the dump (its table changed meanwhile)
    /// and it starts over: forget what was seen so far.
    /// </summary>
    void OnDumpStarted();

    /// <summary>Called for each route; <paramref name="route"/> is valid only during the call.</summary>
    /// <param name="route">The route.</param>
    void Visit(in RouteMessage route);
}
