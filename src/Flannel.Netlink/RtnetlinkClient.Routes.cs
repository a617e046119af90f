using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink.Protocol;
using Flannel.Netlink.Codecs;

namespace Flannel.Netlink;

/// <summary>Route operations (<c>ip route</c>), reached through <see cref="RtnetlinkClient.Routes"/>.</summary>
/// <example>
/// <code>
/// var via = await rtnl.Routes.GetRouteToAsync(IPAddress.Parse("198.18.0.2"), ct);  // ip route get
/// await rtnl.Routes.ReplaceAsync(new RouteSpec(IPNetwork.Parse("10.244.2.0/24")) { Gateway = IPAddress.Parse("198.18.0.2"), Device = via!.OutputInterface }, ct);
/// </code>
/// </example>
[SupportedOSPlatform("linux")]
public sealed class RtnetlinkRoutes
{
    private static readonly Errno[] Unreachable = [Errno.ENETUNREACH, Errno.EHOSTUNREACH, Errno.ESRCH];
    private readonly RtnetlinkClient _client;

    internal RtnetlinkRoutes(RtnetlinkClient client) => _client = client;

    /// <summary>Lists routes, filtered by the kernel (strict checking): by default IPv4 and IPv6 routes of the main table.</summary>
    /// <param name="filter">The filter, or null for the main table.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The routes.</returns>
    public async ValueTask<IReadOnlyList<Route>> ListAsync(RouteFilter? filter = null, CancellationToken cancellationToken = default) =>
        await _client.DumpAsync<RouteFilter?, Route>(Nl.RTM_GETROUTE, filter, RouteCodec.EncodeDump, RouteCodec.TryDecode, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Dumps routes like <see cref="ListAsync"/> but hands each one to <paramref name="visitor"/> as it is read from the
    /// receive buffer, without allocating: for comparing a large table against what is expected (a periodic
    /// reconcile) at no garbage-collection cost. An interrupted dump is retried; the visitor is told to start over.
    /// </summary>
    /// <param name="filter">The filter, or null for the main table.</param>
    /// <param name="visitor">Receives the routes; called on the calling flow, one route at a time.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes after the last route.</returns>
    public ValueTask VisitAsync(RouteFilter? filter, IRouteVisitor visitor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return _client.DumpIntoAsync(Nl.RTM_GETROUTE, filter, RouteCodec.EncodeDump, new RouteVisitorSink(visitor), cancellationToken);
    }

    /// <summary>Asks the kernel which route reaches <paramref name="destination"/> (<c>ip route get</c>): gateway, device, preferred source.</summary>
    /// <param name="destination">The address.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The resolved route (its <see cref="Route.Destination"/> is the host prefix), or null when it is unreachable.</returns>
    public ValueTask<Route?> GetRouteToAsync(IPAddress destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        return _client.GetAsync<IPAddress, Route>(Nl.RTM_GETROUTE, destination, RouteCodec.EncodeGet, RouteCodec.TryDecode, Unreachable, cancellationToken);
    }

    /// <summary>Finds the default route of the main table for a family (the one with the lowest metric).</summary>
    /// <param name="family">InterNetwork or InterNetworkV6.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The default route, or null when there is none.</returns>
    public async ValueTask<Route?> GetDefaultRouteAsync(AddressFamily family = AddressFamily.InterNetwork, CancellationToken cancellationToken = default)
    {
        var routes = await ListAsync(new RouteFilter { Family = family, Type = RouteType.Unicast }, cancellationToken).ConfigureAwait(false);
        return routes.Where(r => r.Destination.PrefixLength == 0).OrderBy(r => r.Metric ?? 0).FirstOrDefault();
    }

    /// <summary>Installs the route, replacing one to the same destination, table and metric (NLM_F_CREATE|NLM_F_REPLACE).</summary>
    /// <param name="spec">The route.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask ReplaceAsync(RouteSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWROUTE, Nl.NLM_F_CREATE | Nl.NLM_F_REPLACE, spec, RouteCodec.EncodeNew, false, cancellationToken));
    }

    /// <summary>Adds the route; fails with <see cref="Errno.EEXIST"/> when one to the same destination exists (NLM_F_CREATE|NLM_F_EXCL).</summary>
    /// <param name="spec">The route.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    public ValueTask AddAsync(RouteSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return RtnetlinkClient.Void(_client.RequestAckAsync(Nl.RTM_NEWROUTE, Nl.NLM_F_CREATE | Nl.NLM_F_EXCL, spec, RouteCodec.EncodeNew, false, cancellationToken));
    }

    /// <summary>
    /// Deletes the route to the spec's destination in its table. Set fields narrow the match (gateway, device, protocol,
    /// type, metric); scope is ignored, as <c>ip route del</c> does.
    /// </summary>
    /// <param name="spec">The route.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when a route was deleted, false when none matched.</returns>
    public ValueTask<bool> DeleteAsync(RouteSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return _client.RequestAckAsync(Nl.RTM_DELROUTE, 0, spec, RouteCodec.EncodeDelete, true, cancellationToken);
    }
}
