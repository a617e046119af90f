namespace Flannel.Netlink;

/// <summary>Whether an object appeared/changed or went away.</summary>
/// <example><code>if (e is RouteEvent { Change: RtnetlinkChange.Removed } r) Console.WriteLine($"lost {r.Route.Destination}");</code></example>
public enum RtnetlinkChange
{
    /// <summary>RTM_NEW*: added or changed.</summary>
    Added = 0,
    /// <summary>RTM_DEL*: removed.</summary>
    Removed = 1,
}

/// <summary>One event from <see cref="RtnetlinkClient.WatchAsync"/>.</summary>
/// <example>
/// <code>
/// await foreach (var e in rtnl.WatchAsync(RtnetlinkGroups.All, ct))
///     switch (e) { case ResyncEvent: await ReconcileFromDumpAsync(ct); break; case RouteEvent r: Handle(r); break; }
/// </code>
/// </example>
public abstract record RtnetlinkEvent;

/// <summary>A link was added, changed or removed.</summary>
/// <param name="Change">What happened.</param>
/// <param name="Link">The link.</param>
/// <example><code>if (e is LinkEvent { Change: RtnetlinkChange.Removed, Link.Name: "flannel.1" }) Recreate();</code></example>
public sealed record LinkEvent(RtnetlinkChange Change, Link Link) : RtnetlinkEvent;

/// <summary>An address was added or removed.</summary>
/// <param name="Change">What happened.</param>
/// <param name="Address">The address.</param>
/// <example><code>if (e is AddressEvent a) Console.WriteLine($"{a.Change} {a.Address.Address}");</code></example>
public sealed record AddressEvent(RtnetlinkChange Change, InterfaceAddress Address) : RtnetlinkEvent;

/// <summary>A route was added, replaced or removed.</summary>
/// <param name="Change">What happened.</param>
/// <param name="Route">The route.</param>
/// <example><code>if (e is RouteEvent r) Console.WriteLine($"{r.Change} {r.Route.Destination}");</code></example>
public sealed record RouteEvent(RtnetlinkChange Change, Route Route) : RtnetlinkEvent;

/// <summary>An ARP/NDP entry was added, changed or removed.</summary>
/// <param name="Change">What happened.</param>
/// <param name="Neighbor">The entry.</param>
/// <example><code>if (e is NeighborEvent n) Console.WriteLine($"{n.Neighbor.Address} is {n.Neighbor.State}");</code></example>
public sealed record NeighborEvent(RtnetlinkChange Change, Neighbor Neighbor) : RtnetlinkEvent;

/// <summary>A bridge/vxlan FDB entry was added, changed or removed.</summary>
/// <param name="Change">What happened.</param>
/// <param name="Entry">The entry.</param>
/// <example><code>if (e is FdbEvent f) Console.WriteLine($"{f.Entry.LinkAddress} dst {f.Entry.Destination}");</code></example>
public sealed record FdbEvent(RtnetlinkChange Change, FdbEntry Entry) : RtnetlinkEvent;

/// <summary>
/// Events were lost (the kernel reported ENOBUFS: the socket's receive buffer overflowed). State must be rebuilt from a
/// fresh dump; the monitor keeps running.
/// </summary>
/// <param name="Reason">Why, e.g. "ENOBUFS".</param>
/// <example><code>if (e is ResyncEvent) routes = await rtnl.Routes.ListAsync(ct: ct);</code></example>
public sealed record ResyncEvent(string Reason) : RtnetlinkEvent;
