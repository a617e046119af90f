using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink;
using Flannel.Udp.Interop;
using Microsoft.Extensions.Logging;

namespace Flannel.Udp;

/// <summary>
/// A registered udp network: follows peer leases and republishes the forwarder's peer table. Like flannel, it programs
/// every lease with an IPv4 subnet and public IP (no backend-type filter) except this node's own.
/// </summary>
/// <remarks>
/// It also keeps the data path working, which flanneld does not: it checks the TUN device (present, up, MTU, address),
/// the route for the overlay network through it, the UDP socket and the two forwarding threads — every
/// <see cref="UdpBackendOptions.HealthCheckInterval"/>, and at once when the kernel reports a change to the device or
/// the route or a pump reports a fault — and repairs what it finds: a deleted TUN or a failed socket means a new
/// forwarder on a new TUN and socket (same name, address and port, same peers), a device set down or a lost address
/// or route is put back. Each finding is reported to <see cref="BackendContext.DataPath"/> as a problem, and the check
/// that finds everything in order reports the data path healthy. Sends failing with an error that is not transient
/// (a firewall's EPERM, ENETUNREACH) are reported until a later send succeeds; nothing here can repair those.
/// </remarks>
[SupportedOSPlatform("linux")]
internal sealed class UdpNetwork : INetwork
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);

    private readonly UdpSetup _setup;
    private readonly BackendContext _context;
    private readonly UdpBackendOptions _options;
    private readonly ILogger _logger;
    private readonly RtnetlinkClient _rtnl;
    private readonly NetworkNamespace? _namespace;
    private readonly UdpMetrics _metrics;
    private readonly DataPathCounters _counters;
    private readonly Dictionary<IPNetwork, (PeerRoute Route, IPAddress Peer)> _routes = [];
    private readonly Lock _swap = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly OverlayRouteCheck _routeCheck;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private UdpDataPath _dataPath;
    private PeerTable _peers = PeerTable.Empty;
    private int _tunIndex;
    private bool _broken;
    private long _sendErrorsSeen;
    private long _egressSeen;
    private string? _sendProblem;
    private bool _stopped;

    public UdpNetwork(Lease lease, UdpSetup setup, UdpDataPath dataPath, int tunIndex, RtnetlinkClient rtnl, NetworkNamespace? ns, BackendContext context, UdpBackendOptions options, ILogger logger)
    {
        Lease = lease;
        _setup = setup;
        _dataPath = dataPath;
        _tunIndex = tunIndex;
        _rtnl = rtnl;
        _namespace = ns;
        _context = context;
        _options = options;
        _logger = logger;
        _counters = dataPath.Counters;
        _routeCheck = new OverlayRouteCheck(setup.Network);
        _sendErrorsSeen = Volatile.Read(ref _counters.SendErrors);
        dataPath.FaultSignal = Wake;
        _metrics = new UdpMetrics(context.MeterFactory, _counters, () => DataPath.Peers.Routes.Count, context.InstanceName);
    }

    public Lease Lease { get; }

    public int Mtu => _setup.Mtu;

    /// <summary>The current forwarder (for diagnostics and tests; replaced when the data path is rebuilt).</summary>
    internal UdpDataPath DataPath => Volatile.Read(ref _dataPath);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = new[] { HealthLoopAsync(stop.Token), KernelWatchAsync(stop.Token) };
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

                var table = PeerTable.Create(_routes.Values.Select(v => v.Route));
                lock (_swap)
                {
                    _peers = table;
                    _dataPath.UpdatePeers(table);
                }

                Log.RoutesUpdated(_logger, _routes.Count);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
    }

    /// <summary>Checks the data path now, repairs what it finds, and reports; false when a repair failed.</summary>
    internal async Task<bool> CheckAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return true;
            }

            var found = new List<string>();
            try
            {
                await InspectAsync(found, repair: true, cancellationToken).ConfigureAwait(false);
                if (found.Count > 0)
                {
                    // Repaired: check again without repairing, so health is reported only for what the kernel now has.
                    var left = new List<string>();
                    await InspectAsync(left, repair: false, cancellationToken).ConfigureAwait(false);
                    if (left.Count > 0)
                    {
                        throw new FlannelException("still wrong after the repair: " + string.Join("; ", left));
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var problem = (found.Count > 0 ? string.Join("; ", found) + "; repairing it failed: " : "checking the udp data path failed: ") + ex.Message;
                Log.RepairFailed(_logger, ex, problem);
                _context.DataPath?.ReportProblem(problem, ex);
                return false;
            }

            if (found.Count > 0)
            {
                var problem = string.Join("; ", found);
                Log.Repaired(_logger, problem);
                _context.DataPath?.ReportProblem(problem, null);
            }

            if (SendProblem() is { } send)
            {
                _context.DataPath?.ReportProblem(send, null);
            }
            else
            {
                _context.DataPath?.ReportHealthy();
            }

            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task InspectAsync(List<string> found, bool repair, CancellationToken cancellationToken)
    {
        var name = _setup.DeviceName;
        var dp = DataPath;
        var rebuild = _broken;
        var link = await _rtnl.Links.GetAsync(name, cancellationToken).ConfigureAwait(false);
        if (link is null)
        {
            found.Add($"the TUN device {name} was deleted");
            rebuild = true;
        }
        else if (link.Index != _tunIndex && !_broken)
        {
            found.Add($"the TUN device {name} was replaced by another device (index {link.Index} instead of {_tunIndex})");
            rebuild = true;
        }
        else if (dp.TunError is not 0 and var tunError)
        {
            found.Add($"reading the TUN device {name} failed: {Libc.Name(tunError)}");
            rebuild = true;
        }
        else if (!dp.EgressAlive && !_broken)
        {
            found.Add("the TUN → UDP forwarding thread stopped");
            rebuild = true;
        }

        if (dp.ReceiveError is not 0 and var receiveError)
        {
            found.Add($"receiving on the UDP socket {dp.Socket.LocalEndPoint} failed: {Libc.Name(receiveError)}");
            rebuild = true;
        }
        else if (!dp.IngressAlive && !_broken)
        {
            found.Add("the UDP → TUN forwarding thread stopped");
            rebuild = true;
        }

        if (UdpDataPath.IsSocketBroken(dp.LastSendError) && Volatile.Read(ref _counters.SendErrors) > _sendErrorsSeen)
        {
            found.Add($"sending on the UDP socket {dp.Socket.LocalEndPoint} failed: {Libc.Name(dp.LastSendError)}");
            rebuild = true;
        }

        if (rebuild)
        {
            if (repair)
            {
                await RebuildAsync(cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        var index = link!.Index;
        if (!link.IsUp)
        {
            found.Add($"the TUN device {name} was down");
            if (repair)
            {
                await _rtnl.Links.SetUpAsync(index, cancellationToken).ConfigureAwait(false);
            }
        }

        if (link.Mtu is { } mtu && mtu != _setup.Mtu)
        {
            found.Add($"the MTU of the TUN device {name} was {mtu}, not {_setup.Mtu}");
            if (repair)
            {
                await _rtnl.Links.SetMtuAsync(index, _setup.Mtu, cancellationToken).ConfigureAwait(false);
            }
        }

        var addresses = await _rtnl.Addresses.ListAsync(index, AddressFamily.InterNetwork, cancellationToken).ConfigureAwait(false);
        if (!addresses.Any(a => a.Address.Equals(_setup.TunAddress) && a.PrefixLength == 32))
        {
            found.Add($"the TUN device {name} had lost its address {_setup.TunAddress}/32");
            if (repair)
            {
                await _rtnl.Addresses.ReplaceAsync(new AddressSpec(index, _setup.TunAddress, 32), cancellationToken).ConfigureAwait(false);
            }
        }

        // Setting a device down drops its routes: read them after the link is up again.
        // Visited in place (one reusable visitor, used under _gate): the check allocates nothing per route in the table.
        _routeCheck.Reset(index);
        await _rtnl.Routes.VisitAsync(_routeCheck.Filter, _routeCheck, cancellationToken).ConfigureAwait(false);
        if (!_routeCheck.Found)
        {
            found.Add($"the route for the overlay network {_setup.Network} through {name} was missing");
            if (repair)
            {
                await _rtnl.Routes.ReplaceAsync(InterfaceConfig.OverlayRoute(index, _setup.Network), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A new forwarder on a new TUN and socket (same name, address, port and peers) in place of the current one.</summary>
    private async Task RebuildAsync(CancellationToken cancellationToken)
    {
        var old = DataPath;
        if (!_broken)
        {
            _broken = true;
            old.FaultSignal = null;
            await Task.Run(old.Dispose, CancellationToken.None).ConfigureAwait(false); // joins the pumps; closing the TUN deletes it
        }

        var (dataPath, index) = await UdpBackend.OpenDataPathAsync(_setup, _options, _context.NetworkNamespacePath, _rtnl, _counters, _logger, cancellationToken).ConfigureAwait(false);
        dataPath.FaultSignal = Wake;
        lock (_swap)
        {
            dataPath.UpdatePeers(_peers);
            Volatile.Write(ref _dataPath, dataPath);
        }

        dataPath.Start();
        _tunIndex = index;
        _broken = false;
        _sendErrorsSeen = Volatile.Read(ref _counters.SendErrors);
        Log.Rebuilt(_logger, dataPath.Tun.Name, index, dataPath.Socket.LocalEndPoint);
    }

    /// <summary>
    /// Sends that failed with an error that is not transient since the last check make a problem; it lasts until a
    /// check finds that packets were sent and none failed since the previous one.
    /// </summary>
    private string? SendProblem()
    {
        var errors = Volatile.Read(ref _counters.SendErrors);
        var sent = Volatile.Read(ref _counters.EgressPackets);
        var dp = DataPath;
        if (errors > _sendErrorsSeen)
        {
            var peer = new IPAddress(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(dp.LastSendPeer));
            _sendProblem = $"{errors - _sendErrorsSeen} packet(s) to peers could not be sent since the last check; last: to {peer}:{_setup.Port}: {Libc.Name(dp.LastSendError)}";
            Log.Problem(_logger, _sendProblem);
        }
        else if (_sendProblem is not null && sent > _egressSeen)
        {
            _sendProblem = null;
        }

        _sendErrorsSeen = errors;
        _egressSeen = sent;
        return _sendProblem;
    }

    private async Task HealthLoopAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var delay = failures == 0
                ? _options.HealthCheckInterval
                : TimeSpan.FromTicks(Math.Min(FirstRetry.Ticks << Math.Min(failures - 1, 10), _options.HealthCheckInterval.Ticks));
            try
            {
                await Volatile.Read(ref _wake).Task.WaitAsync(delay, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            try
            {
                failures = await CheckAsync(cancellationToken).ConfigureAwait(false) ? 0 : failures + 1;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Wakes the health loop for a check now (from pump threads and the kernel watch; never blocks).</summary>
    private void Wake() => Volatile.Read(ref _wake).TrySetResult();

    private async Task KernelWatchAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var groups = RtnetlinkGroups.Link | RtnetlinkGroups.IPv4Address | RtnetlinkGroups.IPv4Route;
                await foreach (var e in _rtnl.WatchAsync(groups, cancellationToken).ConfigureAwait(false))
                {
                    if (Relevant(e))
                    {
                        Wake();
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                if (Volatile.Read(ref _stopped))
                {
                    return;
                }

                Log.WatchFailed(_logger, ex);
                try
                {
                    await Task.Delay(FirstRetry, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private bool Relevant(RtnetlinkEvent e)
    {
        var index = Volatile.Read(ref _tunIndex);
        return e switch
        {
            LinkEvent { Change: RtnetlinkChange.Removed } l => l.Link.Index == index || l.Link.Name == _setup.DeviceName,
            LinkEvent { Change: RtnetlinkChange.Added } l => l.Link.Index == index && (!l.Link.IsUp || l.Link.Mtu != _setup.Mtu),
            AddressEvent { Change: RtnetlinkChange.Removed } a => a.Address.InterfaceIndex == index,
            RouteEvent { Change: RtnetlinkChange.Removed } r => r.Route.Destination.Equals(_setup.Network),
            ResyncEvent => true,
            _ => false,
        };
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
                Log.RouteChanged(_logger, subnet, old.Peer, _setup.Port, "removed");
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

        _routes[subnet] = (PeerRoute.Create(subnet, peer, (ushort)_setup.Port), peer);
        Log.RouteChanged(_logger, subnet, peer, _setup.Port, "added");
    }

    public ValueTask TeardownAsync(CancellationToken cancellationToken) => StopAsync();

    public ValueTask DisposeAsync() => StopAsync();

    private async ValueTask StopAsync()
    {
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            var dp = DataPath;
            dp.FaultSignal = null;
            dp.Dispose();
            _metrics.Dispose();
            await _rtnl.DisposeAsync().ConfigureAwait(false);
            _namespace?.Dispose();
            Log.DataPathStopped(_logger, _counters);
        }
        finally
        {
            _gate.Release();
        }
    }
}
