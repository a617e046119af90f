using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink;

namespace Flannel.Vxlan;

/// <summary>
/// An address as a table key: two 8-byte halves (a <see cref="UInt128"/> field would make every dictionary entry
/// 16-byte aligned, and 1,000 peers' route table large-object-heap sized).
/// </summary>
internal readonly record struct AddressKey(ulong High, ulong Low)
{
    public static implicit operator AddressKey(UInt128 value) => new((ulong)(value >> 64), (ulong)value);
}

/// <summary>What a peer's route must be: its gateway, prefix length and kind.</summary>
internal readonly record struct RouteWant(AddressKey Gateway, byte Prefix, bool Direct)
{
    /// <summary>Whether a kernel route to the subnet's address is this one: onlink via the VTEP on the device, or (direct) via the public IP elsewhere.</summary>
    public bool Matches(int prefix, AddressKey gateway, bool onDevice, bool onLink) =>
        prefix == Prefix && gateway == Gateway && (Direct ? !onDevice : onDevice && onLink);
}

/// <summary>Addresses and MACs as value keys, read from wire bytes or objects without allocating.</summary>
internal static class KernelKeys
{
    /// <summary>No MAC: a length other than 6 (a real 48-bit MAC never has the top bits set).</summary>
    public const ulong NoMac = ulong.MaxValue;

    /// <summary>An IPv4 (low 32 bits) or IPv6 address, big-endian bytes as a number.</summary>
    public static UInt128 Address(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => BinaryPrimitives.ReadUInt32BigEndian(bytes),
        16 => BinaryPrimitives.ReadUInt128BigEndian(bytes),
        _ => UInt128.MaxValue,
    };

    public static UInt128 Address(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        return address.TryWriteBytes(b, out var n) ? Address(b[..n]) : UInt128.MaxValue;
    }

    public static ulong Mac(ReadOnlySpan<byte> bytes) => bytes.Length == 6
        ? ((ulong)BinaryPrimitives.ReadUInt16BigEndian(bytes) << 32) | BinaryPrimitives.ReadUInt32BigEndian(bytes[2..])
        : NoMac;

    public static ulong Mac(PhysicalAddress mac) => Mac(mac.GetAddressBytes());

    /// <summary>The mask of the first <paramref name="prefix"/> bits of an address <paramref name="width"/> bits wide.</summary>
    public static UInt128 PrefixMask(int width, int prefix)
    {
        var all = width == 128 ? UInt128.MaxValue : (UInt128.One << width) - 1;
        return prefix == 0 ? UInt128.Zero : all ^ (prefix >= width ? UInt128.Zero : (UInt128.One << (width - prefix)) - 1);
    }
}

/// <summary>
/// What one family's device should hold, keyed by values: built from the programmed plans whenever they change
/// (immutable afterwards, so the kernel watcher reads it without the lock) and used both to spot a watched entry
/// that was removed or overwritten and to compare a whole kernel dump in place (<see cref="VxlanKernelCheck"/>).
/// </summary>
internal sealed class ExpectedKernelState
{
    public static readonly ExpectedKernelState Empty = new(new Dictionary<IPNetwork, PeerPlan>());

    public ExpectedKernelState(Dictionary<IPNetwork, PeerPlan> programmed)
    {
        Routes = new(programmed.Count);
        Neighbors = new(programmed.Count);
        Fdb = new(programmed.Count);
        foreach (var (subnet, plan) in programmed)
        {
            Routes[KernelKeys.Address(subnet.BaseAddress)] = new RouteWant(KernelKeys.Address(plan.Route.Gateway), (byte)subnet.PrefixLength, plan.Route.Direct);
            if (plan.Neighbor is { } n)
            {
                Neighbors[KernelKeys.Address(n.Address)] = KernelKeys.Mac(n.Mac);
                NeighborCount++;
            }

            if (plan.Fdb is { } f)
            {
                Fdb[KernelKeys.Mac(f.Mac)] = KernelKeys.Address(f.Destination);
                FdbCount++;
            }
        }

        RouteCount = programmed.Count;
    }

    /// <summary>Subnet address → the route it needs (a route of another prefix length to the same address is not ours).</summary>
    public Dictionary<AddressKey, RouteWant> Routes { get; }

    /// <summary>VTEP address → MAC.</summary>
    public Dictionary<AddressKey, ulong> Neighbors { get; }

    /// <summary>VTEP MAC → underlay address.</summary>
    public Dictionary<ulong, AddressKey> Fdb { get; }

    /// <summary>Plans (one route each). When two plans share a key, the counts exceed the table sizes and no dump can match.</summary>
    public int RouteCount { get; }

    public int NeighborCount { get; }

    public int FdbCount { get; }
}

/// <summary>
/// Compares one family's kernel state with <see cref="ExpectedKernelState"/> while the dumps are read, without
/// materialising them: it applies the same ownership rules as the full reconcile (permanent neighbour and FDB
/// entries on the device, unicast routes in the overlay on the device or with our protocol, see <see cref="Owned"/>)
/// and answers whether the full reconcile would find anything to do. A periodic check of 1,000 peers then costs no
/// garbage at all.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class VxlanKernelCheck : IRouteVisitor, INeighborVisitor, IFdbVisitor
{
    private readonly int _addressBytes;
    private readonly UInt128 _overlay;
    private readonly UInt128 _overlayMask;
    private readonly int _overlayPrefix;
    private readonly RouteProtocol _protocol;
    private ExpectedKernelState _expected = ExpectedKernelState.Empty;
    private int _index;
    private int _routes;
    private int _neighbors;
    private int _fdb;

    // The keys counted so far: a duplicate of a matching entry (a second route at another metric, a second FDB remote on
    // another port) counts once, as the full diff sees it, and cannot make up for a missing one. Cleared, never
    // reallocated, so that a steady check allocates nothing.
    private readonly HashSet<AddressKey> _seenRoutes = [];
    private readonly HashSet<AddressKey> _seenNeighbors = [];
    private readonly HashSet<ulong> _seenFdb = [];

    public VxlanKernelCheck(IPNetwork? overlay, int addressBytes, RouteProtocol protocol)
    {
        _addressBytes = addressBytes;
        _protocol = protocol;
        _overlayPrefix = overlay is { } o ? o.PrefixLength : -1;
        _overlay = overlay is { } n ? KernelKeys.Address(n.BaseAddress) : UInt128.Zero;
        _overlayMask = KernelKeys.PrefixMask(addressBytes * 8, Math.Max(_overlayPrefix, 0));
    }

    /// <summary>Why the last check did not match (for the debug log), or null.</summary>
    public string? Mismatch { get; private set; }

    /// <summary>Prepares a check of the device <paramref name="index"/> against <paramref name="expected"/>.</summary>
    public void Reset(int index, ExpectedKernelState expected)
    {
        _index = index;
        _expected = expected;
        _routes = _neighbors = _fdb = 0;
        _seenRoutes.Clear();
        _seenNeighbors.Clear();
        _seenFdb.Clear();
        Mismatch = null;
    }

    /// <summary>After the three dumps: true when the kernel holds exactly what is expected.</summary>
    public bool Matches()
    {
        if (Mismatch is null && (_routes, _neighbors, _fdb) != (_expected.RouteCount, _expected.NeighborCount, _expected.FdbCount))
        {
            Mismatch = $"found {_routes}/{_neighbors}/{_fdb} of {_expected.RouteCount}/{_expected.NeighborCount}/{_expected.FdbCount} routes/neighbours/FDB entries";
        }

        return Mismatch is null;
    }

    void IRouteVisitor.OnDumpStarted()
    {
        _routes = 0;
        _seenRoutes.Clear();
    }

    void INeighborVisitor.OnDumpStarted()
    {
        _neighbors = 0;
        _seenNeighbors.Clear();
    }

    void IFdbVisitor.OnDumpStarted()
    {
        _fdb = 0;
        _seenFdb.Clear();
    }

    public void Visit(in RouteMessage route)
    {
        var onDevice = route.OutputInterface == _index;
        if (!Owned(route.Type, route.Protocol, onDevice, _protocol) || !InOverlay(route.Destination, route.DestinationLength))
        {
            return;
        }

        var key = (AddressKey)KernelKeys.Address(route.Destination);
        if (!_expected.Routes.TryGetValue(key, out var want) || !want.Matches(route.DestinationLength, KernelKeys.Address(route.Gateway), onDevice, route.OnLink))
        {
            Mismatch ??= "a route in the overlay differs";
            return;
        }

        if (_seenRoutes.Add(key))
        {
            _routes++;
        }
    }

    public void Visit(in NeighborMessage neighbor)
    {
        if (neighbor.InterfaceIndex != _index || (neighbor.State & NeighborState.Permanent) == 0 || !neighbor.HasLinkAddress)
        {
            return;
        }

        var key = (AddressKey)KernelKeys.Address(neighbor.Address);
        if (!_expected.Neighbors.TryGetValue(key, out var mac) || mac != KernelKeys.Mac(neighbor.LinkAddress))
        {
            Mismatch ??= "a permanent neighbour entry differs";
            return;
        }

        if (_seenNeighbors.Add(key))
        {
            _neighbors++;
        }
    }

    public void Visit(in FdbMessage entry)
    {
        if (entry.InterfaceIndex != _index || entry.Destination.Length != _addressBytes || (entry.State & NeighborState.Permanent) == 0)
        {
            return;
        }

        var mac = KernelKeys.Mac(entry.LinkAddress);
        if (!_expected.Fdb.TryGetValue(mac, out var dst) || dst != KernelKeys.Address(entry.Destination))
        {
            Mismatch ??= "a permanent FDB entry differs";
            return;
        }

        if (_seenFdb.Add(mac))
        {
            _fdb++;
        }
    }

    /// <summary>
    /// Reads what the full reconcile owns on a device as objects: permanent neighbour and FDB entries on it, and the
    /// main table's unicast routes in the overlay that are on it or carry our protocol. The same rules as the visits.
    /// </summary>
    public static async ValueTask<ObservedState> ObserveAsync(RtnetlinkClient rtnl, int index, AddressFamily family, IPNetwork? overlay, RouteProtocol protocol, CancellationToken cancellationToken)
    {
        var neighbors = new List<NeighborEntry>();
        foreach (var n in await rtnl.Neighbors.ListAsync(index, family, cancellationToken).ConfigureAwait(false))
        {
            if (n.InterfaceIndex == index && (n.State & NeighborState.Permanent) != 0 && n.LinkAddress is { } mac)
            {
                neighbors.Add(new NeighborEntry(n.Address, mac));
            }
        }

        var fdb = new List<FdbEntry>();
        foreach (var e in await rtnl.Fdb.ListAsync(index, cancellationToken).ConfigureAwait(false))
        {
            if (e.InterfaceIndex == index && e.Destination is { } d && d.AddressFamily == family && (e.State & NeighborState.Permanent) != 0)
            {
                fdb.Add(new FdbEntry(e.LinkAddress, d));
            }
        }

        var routes = new List<ObservedRoute>();
        foreach (var r in await rtnl.Routes.ListAsync(new RouteFilter { Family = family, Table = RouteTables.Main }, cancellationToken).ConfigureAwait(false))
        {
            if (Owned(r.Type, r.Protocol, r.OutputInterface == index, protocol) && InOverlay(overlay, r.Destination))
            {
                routes.Add(new ObservedRoute(r.Destination, r.Gateway, r.OutputInterface == index, r.OnLink));
            }
        }

        return new ObservedState(neighbors, fdb, routes);
    }

    /// <summary>
    /// Whether a main-table route in the overlay is the backend's to keep or remove: a unicast route on its device or
    /// carrying its protocol — but never one the kernel made itself (the prefix route of an address on the device).
    /// </summary>
    public static bool Owned(RouteType type, RouteProtocol protocol, bool onDevice, RouteProtocol ours) =>
        type == RouteType.Unicast && protocol != RouteProtocol.Kernel && (onDevice || protocol == ours);

    /// <summary>Whether a destination lies inside the overlay network (and is not wider than it).</summary>
    public static bool InOverlay(IPNetwork? overlay, IPNetwork destination) =>
        overlay is { } n && n.BaseAddress.AddressFamily == destination.BaseAddress.AddressFamily &&
        destination.PrefixLength >= n.PrefixLength && n.Contains(destination.BaseAddress);

    private bool InOverlay(ReadOnlySpan<byte> destination, int prefix) =>
        _overlayPrefix >= 0 && destination.Length == _addressBytes && prefix >= _overlayPrefix &&
        (KernelKeys.Address(destination) & _overlayMask) == _overlay;
}
