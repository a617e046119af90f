namespace Flannel;

/// <summary>
/// A table of routes that a backend owns: the kernel's (via netlink) or a cloud VPC's. All verbs are idempotent,
/// so reconcile loops can call them again without special cases.
/// </summary>
public interface IRouteTable
{
    /// <summary>Installs the route, replacing any route to the same destination (and table) that differs.</summary>
    /// <param name="route">The desired route.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the route is in place.</returns>
    ValueTask ReplaceAsync(OverlayRoute route, CancellationToken cancellationToken);

    /// <summary>Removes the route to <paramref name="route"/>'s destination (and table), if there is one.</summary>
    /// <param name="route">The route to remove; its destination and table identify it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>True when a route was removed, false when there was none.</returns>
    ValueTask<bool> DeleteAsync(OverlayRoute route, CancellationToken cancellationToken);

    /// <summary>Lists the routes this table holds (for a kernel table, those in its scope: table, device, protocol).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The routes.</returns>
    ValueTask<IReadOnlyList<OverlayRoute>> ListAsync(CancellationToken cancellationToken);
}
