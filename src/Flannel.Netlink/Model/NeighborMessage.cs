using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Flannel.Netlink.Codecs;
using Flannel.Netlink.Protocol;

namespace Flannel.Netlink;

/// <summary>
/// An ARP or NDP entry as the kernel sent it (RTM_NEWNEIGH), read in place from the receive buffer: nothing is
/// allocated, and the spans are valid only during the <see cref="INeighborVisitor.Visit"/> call that receives it.
/// Call <see cref="ToNeighbor"/> to keep it.
/// </summary>
/// <example><code>public void Visit(in NeighborMessage n) { if (n.Address.SequenceEqual(wanted) &amp;&amp; n.LinkAddress.SequenceEqual(mac)) found = true; }</code></example>
public readonly ref struct NeighborMessage
{
    private readonly NeighborHeader _header;

    private NeighborMessage(NeighborHeader header, ReadOnlySpan<byte> address, ReadOnlySpan<byte> linkAddress, bool hasLinkAddress)
    {
        _header = header;
        Address = address;
        LinkAddress = linkAddress;
        HasLinkAddress = hasLinkAddress;
    }

    /// <summary>The address family (InterNetwork or InterNetworkV6).</summary>
    public AddressFamily Family => _header.Family == Nl.AF_INET ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;

    /// <summary>The interface index (ndm_ifindex).</summary>
    public int InterfaceIndex => _header.Index;

    /// <summary>NDA_DST: the IP address in network byte order (4 or 16 bytes).</summary>
    public ReadOnlySpan<byte> Address { get; }

    /// <summary>NDA_LLADDR: the link-layer address; empty when unknown (or sent empty, see <see cref="HasLinkAddress"/>).</summary>
    public ReadOnlySpan<byte> LinkAddress { get; }

    /// <summary>Whether the entry carries NDA_LLADDR at all (a NOARP device such as a TUN sends it with no bytes).</summary>
    public bool HasLinkAddress { get; }

    /// <summary>ndm_state.</summary>
    public NeighborState State => (NeighborState)_header.State;

    /// <summary>ndm_flags.</summary>
    public NeighborFlags Flags => (NeighborFlags)_header.Flags;

    /// <summary>Copies the message into a <see cref="Neighbor"/> (allocates).</summary>
    /// <returns>The entry.</returns>
    public Neighbor ToNeighbor() => new()
    {
        InterfaceIndex = InterfaceIndex,
        Address = new IPAddress(Address),
        LinkAddress = HasLinkAddress ? new PhysicalAddress(LinkAddress.ToArray()) : null,
        State = State,
        Flags = Flags,
    };

    /// <summary>Reads an RTM_NEWNEIGH payload; false for other families or an entry without an address.</summary>
    internal static bool TryRead(ReadOnlySpan<byte> payload, out NeighborMessage message)
    {
        var h = NetlinkMessageReader.ReadHeader<NeighborHeader>(payload, "ndmsg");
        message = default;
        if (h.Family != Nl.AF_INET && h.Family != Nl.AF_INET6)
        {
            return false;
        }

        ReadOnlySpan<byte> dst = default, ll = default;
        var hasLl = false;
        var r = new AttributeReader(payload[12..]);
        while (r.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case Nda.Dst: dst = Attr.AddressBytes(v, "NDA_DST"); break;
                case Nda.LlAddr: ll = v; hasLl = true; break;
            }
        }

        if (dst.IsEmpty)
        {
            return false;
        }

        message = new NeighborMessage(h, dst, ll, hasLl);
        return true;
    }
}

/// <summary>
/// A bridge forwarding-database entry as the kernel sent it (AF_BRIDGE RTM_NEWNEIGH), read in place: nothing is
/// allocated, and the spans are valid only during the <see cref="IFdbVisitor.Visit"/> call that receives it. Call
/// <see cref="ToFdbEntry"/> to keep it.
/// </summary>
/// <example><code>public void Visit(in FdbMessage e) { if (e.LinkAddress.SequenceEqual(mac) &amp;&amp; e.Destination.SequenceEqual(vtep)) found = true; }</code></example>
public readonly ref struct FdbMessage
{
    private readonly NeighborHeader _header;

    private FdbMessage(NeighborHeader header, ReadOnlySpan<byte> linkAddress, ReadOnlySpan<byte> destination, ushort? port, uint? vni, int? master)
    {
        _header = header;
        LinkAddress = linkAddress;
        Destination = destination;
        Port = port;
        Vni = vni;
        MasterIndex = master;
    }

    /// <summary>The device index (ndm_ifindex).</summary>
    public int InterfaceIndex => _header.Index;

    /// <summary>NDA_LLADDR: the MAC.</summary>
    public ReadOnlySpan<byte> LinkAddress { get; }

    /// <summary>NDA_DST: the remote VTEP in network byte order (4 or 16 bytes); empty when absent.</summary>
    public ReadOnlySpan<byte> Destination { get; }

    /// <summary>NDA_PORT, if present.</summary>
    public ushort? Port { get; }

    /// <summary>NDA_VNI, if present.</summary>
    public uint? Vni { get; }

    /// <summary>NDA_MASTER: the bridge index, if any.</summary>
    public int? MasterIndex { get; }

    /// <summary>ndm_state.</summary>
    public NeighborState State => (NeighborState)_header.State;

    /// <summary>ndm_flags.</summary>
    public NeighborFlags Flags => (NeighborFlags)_header.Flags;

    /// <summary>Copies the message into an <see cref="FdbEntry"/> (allocates).</summary>
    /// <returns>The entry.</returns>
    public FdbEntry ToFdbEntry() => new()
    {
        InterfaceIndex = InterfaceIndex,
        LinkAddress = new PhysicalAddress(LinkAddress.ToArray()),
        Destination = Destination.IsEmpty ? null : new IPAddress(Destination),
        Port = Port,
        Vni = Vni,
        MasterIndex = MasterIndex,
        State = State,
        Flags = Flags,
    };

    /// <summary>Reads an AF_BRIDGE RTM_NEWNEIGH payload; false for other families or an entry without a MAC.</summary>
    internal static bool TryRead(ReadOnlySpan<byte> payload, out FdbMessage message)
    {
        var h = NetlinkMessageReader.ReadHeader<NeighborHeader>(payload, "ndmsg");
        message = default;
        if (h.Family != Nl.AF_BRIDGE)
        {
            return false;
        }

        ReadOnlySpan<byte> dst = default, ll = default;
        var hasMac = false;
        ushort? port = null;
        uint? vni = null;
        int? master = null;
        var r = new AttributeReader(payload[12..]);
        while (r.TryRead(out var t, out var v))
        {
            switch (t)
            {
                case Nda.Dst: dst = Attr.AddressBytes(v, "NDA_DST"); break;
                case Nda.LlAddr: ll = v; hasMac = true; break;
                case Nda.Port: port = Attr.U16BigEndian(v, "NDA_PORT"); break;
                case Nda.Vni: vni = Attr.U32(v, "NDA_VNI"); break;
                case Nda.Master: master = (int)Attr.U32(v, "NDA_MASTER"); break;
            }
        }

        if (!hasMac)
        {
            return false;
        }

        message = new FdbMessage(h, ll, dst, port, vni, master);
        return true;
    }
}

/// <summary>Receives the ARP/NDP entries of a dump one by one (<see cref="RtnetlinkNeighbors.VisitAsync"/>), read in place.</summary>
public interface INeighborVisitor
{
    /// <summary>Called before the first entry, and again when an interrupted dump starts over: forget what was seen so far.</summary>
    void OnDumpStarted();

    /// <summary>Called for each entry; <paramref name="neighbor"/> is valid only during the call.</summary>
    /// <param name="neighbor">The entry.</param>
    void Visit(in NeighborMessage neighbor);
}

/// <summary>Receives the FDB entries of a dump one by one (<see cref="RtnetlinkFdb.VisitAsync"/>), read in place.</summary>
public interface IFdbVisitor
{
    /// <summary>Called before the first entry, and again when an interrupted dump starts over: forget what was seen so far.</summary>
    void OnDumpStarted();

    /// <summary>Called for each entry; <paramref name="entry"/> is valid only during the call.</summary>
    /// <param name="entry">The entry.</param>
    void Visit(in FdbMessage entry);
}
