using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Gce;

/// <summary>
/// The flannel routes of one GCE network as an <see cref="IRouteTable"/>: routes named <c>flannel-&lt;cidr&gt;</c>
/// (10.244.3.0/24 → <c>flannel-10-244-3-0-24</c>), priority 1000, no tags, next hop an instance
/// (<see cref="OverlayRoute.NextHop"/> = the instance's selfLink).
/// </summary>
internal sealed class GceRouteTable : IRouteTable
{
    internal const int Priority = 1000;

    private readonly GceComputeClient _compute;
    private readonly string _project;
    private readonly string _networkLink;
    private readonly ILogger _logger;

    public GceRouteTable(GceComputeClient compute, string project, string networkLink, ILogger logger)
    {
        _compute = compute;
        _project = project;
        _networkLink = networkLink;
        _logger = logger;
    }

    /// <summary>How messages name the table: the project's routes of the network.</summary>
    public override string ToString() => $"the routes of project {_project} (network {_networkLink[(_networkLink.LastIndexOf('/') + 1)..]})";

    /// <summary>flannel's route name for a subnet.</summary>
    public static string RouteName(IPNetwork destination)
    {
        if (destination.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"gce routes are IPv4 only; {destination} cannot be named under GCE's rules", nameof(destination));
        }

        return "flannel-" + destination.ToString().Replace('.', '-').Replace('/', '-');
    }

    public async ValueTask<IReadOnlyList<OverlayRoute>> ListAsync(CancellationToken cancellationToken)
    {
        var routes = await _compute.ListRoutesAsync(_project, "name eq flannel-.*", cancellationToken).ConfigureAwait(false);
        var result = new List<OverlayRoute>();
        foreach (var route in routes)
        {
            if (route.Name?.StartsWith("flannel-", StringComparison.Ordinal) == true && route.Network == _networkLink
                && IPNetwork.TryParse(route.DestRange, out var destination) && !string.IsNullOrEmpty(route.NextHopInstance))
            {
                result.Add(new OverlayRoute(destination) { NextHop = route.NextHopInstance });
            }
        }

        return result;
    }

    public async ValueTask ReplaceAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (string.IsNullOrEmpty(route.NextHop))
        {
            throw new ArgumentException("a gce route needs NextHop (the instance selfLink)", nameof(route));
        }

        var name = RouteName(route.Destination);
        var destination = route.Destination.ToString();
        for (var round = 0; ; round++)
        {
            var existing = await _compute.GetRouteAsync(_project, name, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                if (existing.NextHopInstance == route.NextHop && existing.DestRange == destination && existing.Network == _networkLink)
                {
                    Log.RouteInPlace(_logger, name, destination, route.NextHop);
                    return;
                }

                Log.ReplacingRoute(_logger, name, existing.NextHopInstance);
                await DeleteByNameAsync(name, cancellationToken).ConfigureAwait(false);
            }

            Log.InsertingRoute(_logger, name, destination, route.NextHop);
            try
            {
                var operation = await _compute.InsertRouteAsync(_project, new GceRoute
                {
                    Name = name,
                    Network = _networkLink,
                    DestRange = destination,
                    Priority = Priority,
                    NextHopInstance = route.NextHop,
                    Tags = [],
                    Description = "flannel: pod subnet route",
                }, cancellationToken).ConfigureAwait(false);
                await _compute.WaitAsync(_project, operation, "insert " + name, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (GceApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict && round < 2)
            {
                // inserted by someone else between our get and our insert: read it again
            }
        }
    }

    public async ValueTask<bool> DeleteAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        return await DeleteByNameAsync(RouteName(route.Destination), cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<bool> DeleteByNameAsync(string name, CancellationToken cancellationToken)
    {
        var operation = await _compute.DeleteRouteAsync(_project, name, cancellationToken).ConfigureAwait(false);
        if (operation is null)
        {
            return false;
        }

        await _compute.WaitAsync(_project, operation, "delete " + name, cancellationToken).ConfigureAwait(false);
        Log.DeletedRoute(_logger, name);
        return true;
    }
}
