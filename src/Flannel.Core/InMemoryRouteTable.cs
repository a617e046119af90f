using System.Net.Sockets;

namespace Flannel;

/// <summary>
/// A route table held in memory, with the kernel's identity rule: at most one route per destination and table.
/// For tests, dry runs and hosts whose routes are programmed by someone else. Thread-safe.
/// </summary>
public sealed class InMemoryRouteTable : IRouteTable
{
    private const int MainTable = 254;
    private readonly Dictionary<(System.Net.IPNetwork Destination, int Table), OverlayRoute> _routes = [];
    private readonly Lock _lock = new();

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The gateway's address family differs from the destination's.</exception>
    public ValueTask ReplaceAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        cancellationToken.ThrowIfCancellationRequested();
        var family = route.Destination.BaseAddress.AddressFamily;
        if (route.Gateway is { } gw && gw.AddressFamily != family)
        {
            throw new ArgumentException($"gateway {gw} is not in the address family of destination {route.Destination}", nameof(route));
        }

        if (route.Type == OverlayRouteType.Blackhole && (route.Gateway is not null || route.NextHop is not null))
        {
            throw new ArgumentException($"blackhole route to {route.Destination} cannot have a gateway or next hop", nameof(route));
        }

        lock (_lock)
        {
            _routes[Key(route)] = route;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return ValueTask.FromResult(_routes.Remove(Key(route)));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<OverlayRoute>> ListAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            IReadOnlyList<OverlayRoute> list = [.. _routes.Values
                .OrderBy(r => r.Destination.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
                .ThenBy(r => r.Destination.ToString(), StringComparer.Ordinal)];
            return ValueTask.FromResult(list);
        }
    }

    private static (System.Net.IPNetwork, int) Key(OverlayRoute route) => (route.Destination, route.Table ?? MainTable);
}
