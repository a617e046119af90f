using System.Net;
using System.Net.Sockets;
using Flannel.Netlink;

namespace Flannel.Udp;

/// <summary>
/// Looks for the overlay network's route through the TUN device in a dump of the main IPv4 table, reading each route in
/// place (<see cref="RtnetlinkRoutes.VisitAsync"/>): one instance per network, reused by every health check, so a check
/// allocates nothing per route however large the table is. A route matches when its destination, masked to its prefix
/// length, is the overlay network and its output interface is the device — what comparing
/// <see cref="Route.Destination"/> with the network and <see cref="Route.OutputInterface"/> with the index does.
/// </summary>
internal sealed class OverlayRouteCheck : IRouteVisitor
{
    private readonly byte[] _network = new byte[4];
    private readonly byte[] _mask = new byte[4];
    private readonly int _prefix;
    private int _index;

    public OverlayRouteCheck(IPNetwork network)
    {
        if (network.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"the overlay network {network} is not IPv4", nameof(network));
        }

        _prefix = network.PrefixLength;
        network.BaseAddress.TryWriteBytes(_network, out _);
        for (var i = 0; i < 4; i++)
        {
            _mask[i] = (byte)(0xFF << (8 - Math.Clamp(_prefix - (i * 8), 0, 8)));
            _network[i] &= _mask[i];
        }
    }

    /// <summary>The dump to run: IPv4 routes of the main table (the kernel filters).</summary>
    public RouteFilter Filter { get; } = new() { Family = AddressFamily.InterNetwork, Table = RouteTables.Main };

    /// <summary>True when the last dump held the route.</summary>
    public bool Found { get; private set; }

    /// <summary>Prepares a dump: the route must go through the device with this index.</summary>
    /// <param name="index">The TUN device's interface index.</param>
    public void Reset(int index)
    {
        _index = index;
        Found = false;
    }

    public void OnDumpStarted() => Found = false;

    public void Visit(in RouteMessage route)
    {
        if (Found || route.OutputInterface != _index || route.DestinationLength != _prefix)
        {
            return;
        }

        var destination = route.Destination;
        if (destination.Length != 4)
        {
            return;
        }

        for (var i = 0; i < 4; i++)
        {
            if ((destination[i] & _mask[i]) != _network[i])
            {
                return;
            }
        }

        Found = true;
    }
}
