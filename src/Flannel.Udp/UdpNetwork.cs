using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;

namespace Flannel.Udp;

/// <summary>
/// A registered udp network: follows peer leases and republishes the forwarder's peer table. Like flannel, it programs
/// every lease with an IPv4 subnet and public IP (no backend-type filter) except this node's own.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class UdpNetwork : INetwork
{
    private readonly UdpDataPath _dataPath;
    private readonly BackendContext _context;
    private readonly ILogger _logger;
    private readonly ushort _port;
    private readonly UdpMetrics _metrics;
    private readonly Dictionary<IPNetwork, (PeerRoute Route, IPAddress Peer)> _routes = [];
    private int _stopped;

    public UdpNetwork(Lease lease, int mtu, ushort port, UdpDataPath dataPath, BackendContext context, ILogger logger)
    {
        Lease = lease;
        Mtu = mtu;
        _port = port;
        _dataPath = dataPath;
        _context = context;
        _logger = logger;
        _metrics = new UdpMetrics(context.MeterFactory, dataPath.Counters, () => dataPath.Peers.Routes.Count, context.InstanceName);
    }

    public Lease Lease { get; }

    public int Mtu { get; }

    /// <summary>The forwarder (for diagnostics and tests).</summary>
    internal UdpDataPath DataPath => _dataPath;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Core's watcher gives cache semantics: the first batch is every peer, resyncs arrive as diffs, our own
            // lease is filtered out, and renewals are not re-emitted.
            await foreach (var batch in LeaseWatcher.WatchPeersAsync(_context.SubnetManager, Lease, cancellationToken).ConfigureAwait(false))
            {
                foreach (var e in batch)
                {
                    Apply(e.Kind, e.Lease);
                }

                _dataPath.UpdatePeers(PeerTable.Create(_routes.Values.Select(v => v.Route)));
                Log.RoutesUpdated(_logger, _routes.Count);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Apply(LeaseEventKind kind, Lease lease)
    {
        if (lease.Subnet is not { } subnet || subnet.Equals(Lease.Subnet))
        {
            return;
        }

        if (kind == LeaseEventKind.Removed)
        {
            if (_routes.Remove(subnet, out var old))
            {
                Log.RouteChanged(_logger, subnet, old.Peer, _port, "removed");
            }

            return;
        }

        if (lease.Attributes.PublicIP is not { AddressFamily: AddressFamily.InterNetwork } peer)
        {
            Log.LeaseIgnored(_logger, subnet, "no IPv4 PublicIP");
            return;
        }

        if (subnet.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            Log.LeaseIgnored(_logger, subnet, "not an IPv4 subnet");
            return;
        }

        _routes[subnet] = (PeerRoute.Create(subnet, peer, _port), peer);
        Log.RouteChanged(_logger, subnet, peer, _port, "added");
    }

    public ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    private void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _dataPath.Dispose();
        _metrics.Dispose();
        Log.DataPathStopped(_logger, _dataPath.Counters);
    }
}
