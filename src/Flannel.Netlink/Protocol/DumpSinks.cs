
using System.Runtime.Versioning;

namespace Flannel.Netlink.Protocol;

/// <summary>Where the messages of a dump go as they are read from the receive buffer.</summary>
internal interface IDumpSink
{
    /// <summary>The dump (re)starts: forget what was accepted so far.</summary>
    void Begin();

    /// <summary>One object message of the dump; the payload is valid only during the call.</summary>
    void Accept(ushort type, ReadOnlySpan<byte> payload);
}

/// <summary>Decodes every message into a list (the List* calls).</summary>
[SupportedOSPlatform("linux")]
internal sealed class ListSink<TItem>(RtnetlinkClient.Decoder<TItem> decode) : IDumpSink
{
    public List<TItem> Items { get; private set; } = [];

    public void Begin() => Items = [];

    public void Accept(ushort type, ReadOnlySpan<byte> payload)
    {
        if (decode(type, payload, out var item))
        {
            Items.Add(item);
        }
    }
}

/// <summary>Hands every route to a visitor, read in place.</summary>
internal readonly struct RouteVisitorSink(IRouteVisitor visitor) : IDumpSink
{
    public void Begin() => visitor.OnDumpStarted();

    public void Accept(ushort type, ReadOnlySpan<byte> payload)
    {
        if (RouteMessage.TryRead(payload, out var m))
        {
            visitor.Visit(in m);
        }
    }
}

/// <summary>Hands every ARP/NDP entry to a visitor, read in place.</summary>
internal readonly struct NeighborVisitorSink(INeighborVisitor visitor) : IDumpSink
{
    public void Begin() => visitor.OnDumpStarted();

    public void Accept(ushort type, ReadOnlySpan<byte> payload)
    {
        if (NeighborMessage.TryRead(payload, out var m))
        {
            visitor.Visit(in m);
        }
    }
}

/// <summary>Hands every FDB entry to a visitor, read in place; entries of other devices are dropped when a device was asked for.</summary>
internal readonly struct FdbVisitorSink(IFdbVisitor visitor, int? interfaceIndex) : IDumpSink
{
    public void Begin() => visitor.OnDumpStarted();

    public void Accept(ushort type, ReadOnlySpan<byte> payload)
    {
        if (FdbMessage.TryRead(payload, out var m) && (interfaceIndex is not { } ix || m.InterfaceIndex == ix))
        {
            visitor.Visit(in m);
        }
    }
}
