using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Flannel.Vxlan;

/// <summary>A permanent neighbour entry on the vxlan device: a peer's VTEP address and MAC.</summary>
internal readonly record struct NeighborEntry(IPAddress Address, PhysicalAddress Mac);

/// <summary>A permanent FDB entry on the vxlan device: a peer's VTEP MAC and underlay address.</summary>
internal readonly record struct FdbEntry(PhysicalAddress Mac, IPAddress Destination);

/// <summary>A peer route: onlink via the peer's VTEP address on the vxlan device, or (DirectRouting) via its public IP.</summary>
internal readonly record struct PeerRoute(IPNetwork Destination, IPAddress Gateway, bool Direct);

/// <summary>What one peer needs on this node for one address family.</summary>
internal sealed record PeerPlan(IPNetwork Subnet, NeighborEntry? Neighbor, FdbEntry? Fdb, PeerRoute Route);

/// <summary>A route found in the kernel that the vxlan backend may own.</summary>
/// <param name="Destination">The destination.</param>
/// <param name="Gateway">The gateway, if any.</param>
/// <param name="OnDevice">True when its output device is the vxlan device.</param>
/// <param name="OnLink">The onlink flag.</param>
internal readonly record struct ObservedRoute(IPNetwork Destination, IPAddress? Gateway, bool OnDevice, bool OnLink);

/// <summary>The kernel state the vxlan backend owns for one family: permanent neighbours and FDB entries on the device, and its routes.</summary>
internal sealed record ObservedState(IReadOnlyCollection<NeighborEntry> Neighbors, IReadOnlyCollection<FdbEntry> Fdb, IReadOnlyCollection<ObservedRoute> Routes);

/// <summary>What a full reconcile must do: program these peers, delete these orphans.</summary>
internal sealed record VxlanDiff(
    IReadOnlyList<PeerPlan> Program,
    IReadOnlyList<NeighborEntry> DeleteNeighbors,
    IReadOnlyList<FdbEntry> DeleteFdb,
    IReadOnlyList<IPNetwork> DeleteRoutes)
{
    public bool IsEmpty => Program.Count == 0 && DeleteNeighbors.Count == 0 && DeleteFdb.Count == 0 && DeleteRoutes.Count == 0;
}

/// <summary>Pure planning: the desired per-peer state from a lease set, and its diff against observed kernel state.</summary>
internal static class VxlanPlanner
{
    /// <summary>Plans one peer for one family; returns null (with a reason) when the lease gives this family nothing to program.</summary>
    /// <param name="lease">The peer lease.</param>
    /// <param name="family">InterNetwork or InterNetworkV6.</param>
    /// <param name="directRouting">Whether DirectRouting is on.</param>
    /// <param name="isDirect">Whether a public IP is directly reachable (no gateway); only asked with DirectRouting.</param>
    /// <param name="skip">Why the lease was skipped; null when it simply lacks this family.</param>
    public static PeerPlan? Plan(Lease lease, AddressFamily family, bool directRouting, Func<IPAddress, bool> isDirect, out string? skip)
    {
        skip = null;
        var v6 = family == AddressFamily.InterNetworkV6;
        var subnet = v6 ? lease.IPv6Subnet : lease.Subnet;
        if (subnet is not { } s)
        {
            return null;
        }

        if (!string.Equals(lease.Attributes.BackendType, BackendType.Vxlan.Value, StringComparison.OrdinalIgnoreCase))
        {
            skip = $"backend type is \"{lease.Attributes.BackendType}\", not vxlan";
            return null;
        }

        var publicIP = v6 ? lease.Attributes.PublicIPv6 : lease.Attributes.PublicIP;
        if (publicIP is null || publicIP.AddressFamily != family)
        {
            skip = v6 ? "no PublicIPv6" : "no PublicIP";
            return null;
        }

        if (directRouting && isDirect(publicIP))
        {
            return new PeerPlan(s, null, null, new PeerRoute(s, publicIP, Direct: true));
        }

        var mac = VtepData.TryReadMac(v6 ? lease.Attributes.BackendV6Data : lease.Attributes.BackendData, out var problem);
        if (mac is null)
        {
            skip = (v6 ? "BackendV6Data: " : "BackendData: ") + problem;
            return null;
        }

        return new PeerPlan(s, new NeighborEntry(s.BaseAddress, mac), new FdbEntry(mac, publicIP), new PeerRoute(s, s.BaseAddress, Direct: false));
    }

    /// <summary>Diffs desired peers against observed kernel state: peers to (re)program and orphans to delete.</summary>
    public static VxlanDiff Diff(IReadOnlyCollection<PeerPlan> desired, ObservedState observed)
    {
        var neighbors = new HashSet<NeighborEntry>(observed.Neighbors);
        var fdb = new HashSet<FdbEntry>(observed.Fdb);
        var routes = new Dictionary<IPNetwork, ObservedRoute>();
        foreach (var r in observed.Routes)
        {
            routes[r.Destination] = r;
        }

        var program = new List<PeerPlan>();
        var wantNeighbors = new HashSet<NeighborEntry>();
        var wantFdb = new HashSet<FdbEntry>();
        var wantRoutes = new HashSet<IPNetwork>();
        foreach (var p in desired)
        {
            wantRoutes.Add(p.Subnet);
            var ok = true;
            if (p.Neighbor is { } n)
            {
                wantNeighbors.Add(n);
                ok &= neighbors.Contains(n);
            }

            if (p.Fdb is { } f)
            {
                wantFdb.Add(f);
                ok &= fdb.Contains(f);
            }

            ok &= routes.TryGetValue(p.Subnet, out var r) && RouteMatches(r, p.Route);
            if (!ok)
            {
                program.Add(p);
            }
        }

        // A neighbour entry is keyed by address: one with a stale MAC for a wanted address is overwritten by the replace.
        var wantedNeighborAddresses = wantNeighbors.Select(n => n.Address).ToHashSet();
        return new VxlanDiff(
            program,
            [.. neighbors.Where(n => !wantNeighbors.Contains(n) && !wantedNeighborAddresses.Contains(n.Address))],
            [.. fdb.Where(f => !wantFdb.Contains(f))],
            [.. routes.Keys.Where(d => !wantRoutes.Contains(d))]);
    }

    private static bool RouteMatches(ObservedRoute actual, PeerRoute want) =>
        want.Direct
            ? !actual.OnDevice && Equals(actual.Gateway, want.Gateway)
            : actual.OnDevice && actual.OnLink && Equals(actual.Gateway, want.Gateway);
}
