using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Flannel.Netlink;
using Microsoft.Extensions.Logging;

namespace Flannel.Vxlan;

/// <summary>
/// A registered vxlan network. Per peer lease and family it programs a permanent neighbour entry, a permanent
/// FDB entry and an onlink route (or, with DirectRouting and an on-link peer, a plain route via its public IP).
/// It reconciles: a full diff of the kernel state it owns against the lease set at start, on every lease
/// snapshot, periodically, and whenever the kernel reports that something it owns was removed.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class VxlanNetwork : INetwork
{
    private readonly BackendContext _context;
    private readonly VxlanBackendOptions _options;
    private readonly NetworkConfig _config;
    private readonly VxlanConfig _vx;
    private readonly RtnetlinkClient _rtnl;
    private readonly NetworkNamespace? _namespace;
    private readonly ILogger _logger;
    private readonly List<FamilyState> _families;
    private readonly PeerLeases _peers;
    private long _peersVersion; // bumped by every lease change applied to _peers (under _gate)
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _healSignal = new(0, 1);
    private volatile string? _healReason;
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _synced;
    private int _reconciles;
    private readonly VxlanMetrics _metrics;

    public VxlanNetwork(
        BackendContext context,
        VxlanBackendOptions options,
        NetworkConfig config,
        VxlanConfig vx,
        Lease lease,
        IReadOnlyList<VxlanDeviceSpec> devices,
        RtnetlinkClient rtnl,
        NetworkNamespace? ns)
    {
        _context = context;
        _options = options;
        _config = config;
        _vx = vx;
        _rtnl = rtnl;
        _namespace = ns;
        _logger = context.LoggerFactory.CreateLogger("Flannel.Vxlan");
        Lease = lease;
        _peers = new PeerLeases(lease);
        _families = [.. devices.Select(d => new FamilyState(d)
        {
            LeaseSubnet = d.Family == AddressFamily.InterNetwork ? lease.Subnet : lease.IPv6Subnet,
            Overlay = d.Family == AddressFamily.InterNetwork ? config.Network : config.IPv6Network,
            Check = new VxlanKernelCheck(
                d.Family == AddressFamily.InterNetwork ? config.Network : config.IPv6Network,
                d.Family == AddressFamily.InterNetwork ? 4 : 16,
                (RouteProtocol)options.RouteProtocol),
        })];
        _metrics = new VxlanMetrics(context.MeterFactory, context.InstanceName, () => _families.Select(f =>
            (f.Spec.Name, f.Spec.Family == AddressFamily.InterNetwork ? "ipv4" : "ipv6", f.PeerCount)));
    }

    public Lease Lease { get; private set; }

    /// <summary>The pod MTU: the smallest device MTU (IPv4 underlay − 50, IPv6 underlay − 70).</summary>
    public int Mtu => _families.Min(f => f.Spec.Mtu);

    /// <summary>Completed full reconciles (diagnostics and tests).</summary>
    public int ReconcileCount => Volatile.Read(ref _reconciles);

    /// <summary>The device names and indexes (diagnostics and tests).</summary>
    public IReadOnlyList<(string Name, int Index, PhysicalAddress Mac)> Devices => [.. _families.Select(f => (f.Spec.Name, f.Index, f.Spec.Mac))];

    /// <summary>Brings the devices to their full configuration: attributes, MTU, MAC, lease address, up.</summary>
    public async Task SetUpDevicesAsync(CancellationToken cancellationToken)
    {
        foreach (var f in _families)
        {
            var link = await VxlanDevice.EnsureAsync(_rtnl, f.Spec, _logger, cancellationToken, logReuse: false).ConfigureAwait(false);
            f.Index = link.Index;
            if (f.LeaseSubnet is { } subnet)
            {
                await VxlanDevice.EnsureAddressAsync(_rtnl, f.Index, subnet, f.Overlay, cancellationToken).ConfigureAwait(false);
            }

            if (!link.IsUp)
            {
                await _rtnl.Links.SetUpAsync(f.Index, cancellationToken).ConfigureAwait(false);
            }

            // udev/systemd may rewrite the MAC of a new device (flannel #1795): check after link-up and set it back.
            var now = await _rtnl.Links.GetByIndexAsync(f.Index, cancellationToken).ConfigureAwait(false);
            if (now?.MacAddress is { } actual && !actual.Equals(f.Spec.Mac))
            {
                Log.MacDrift(_logger, f.Spec.Name, VtepData.FormatMac(actual), VtepData.FormatMac(f.Spec.Mac));
                try
                {
                    await _rtnl.Links.SetMacAddressAsync(f.Index, f.Spec.Mac, cancellationToken).ConfigureAwait(false);
                }
                catch (NetlinkException)
                {
                    // The kernel refuses: adopt the device's MAC and tell the peers.
                    f.Spec = f.Spec with { Mac = actual };
                    await RepublishAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            if (f.Spec.Family == AddressFamily.InterNetworkV6 &&
                NamespaceSysctl.TryWrite(_context.NetworkNamespacePath, $"net/ipv6/conf/{f.Spec.Name}/accept_ra", "0") is { } err)
            {
                Log.AcceptRaFailed(_logger, f.Spec.Name, err);
            }
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var loops = new List<Task> { PeriodicAsync(stop.Token), HealAsync(stop.Token) };
        if (_options.WatchKernel)
        {
            loops.Add(KernelWatchAsync(stop.Token));
        }

        try
        {
            await _peers.RunAsync(
                _context.SubnetManager,
                _gate,
                events =>
                {
                    _peersVersion++;
                    return events is null ? ReconcileCoreAsync(ReconcileTrigger.Snapshot, cancellationToken) : ApplyEventsAsync(events, cancellationToken);
                },
                ex =>
                {
                    _metrics.Failed(1);

                    // The kernel refused: report it and let the healer retry, instead of failing the network for
                    // good over what may pass.
                    Log.ReconcileFailed(_logger, ex);
                    _context.DataPath?.ReportProblem($"reconciling {DeviceNames} failed: {ex.Message}", ex);
                    RequestHeal("retry after a failed update");
                },
                () =>
                {
                    _synced = true;
                    _firstSync.TrySetResult();
                },
                cancellationToken).ConfigureAwait(false);
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

    /// <summary>Runs one full reconcile now.</summary>
    public Task ReconcileAsync(CancellationToken cancellationToken) => ReconcileAsync(ReconcileTrigger.Manual, cancellationToken);

    private async Task ReconcileAsync(ReconcileTrigger trigger, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReconcileCoreAsync(trigger, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _metrics.Failed(1);
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var f in _families)
            {
                foreach (var r in await _rtnl.Routes.ListAsync(new RouteFilter { Family = f.Spec.Family, Table = RouteTables.Main }, cancellationToken).ConfigureAwait(false))
                {
                    if (r.Protocol == (RouteProtocol)_options.RouteProtocol && InOverlay(f, r.Destination))
                    {
                        await _rtnl.Routes.DeleteAsync(new RouteSpec(r.Destination) { Table = RouteTables.Main, Protocol = r.Protocol }, cancellationToken).ConfigureAwait(false);
                    }
                }

                // Neighbour, FDB entries and onlink routes on the device go with it.
                await _rtnl.Links.DeleteByNameAsync(f.Spec.Name, cancellationToken).ConfigureAwait(false);
                f.Programmed.Clear();
                f.PlannedVersion = -1;
                f.PublishView();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _rtnl.DisposeAsync().ConfigureAwait(false);
        _namespace?.Dispose();
        _gate.Dispose();
        _healSignal.Dispose();
        _metrics.Dispose();
    }

    private async Task ReconcileCoreAsync(ReconcileTrigger trigger, CancellationToken cancellationToken)
    {
        var started = _context.TimeProvider.GetTimestamp();
        await EnsureDevicesAsync(cancellationToken).ConfigureAwait(false);
        string? problem = null;
        foreach (var f in _families)
        {
            // The plans depend only on the lease set (and, with DirectRouting, on the underlay routes): a periodic or
            // heal reconcile with no lease change since the last plan reuses it and only compares with the kernel.
            Dictionary<IPNetwork, PeerPlan> desired;
            if (!_vx.DirectRouting && f.PlannedVersion == _peersVersion)
            {
                desired = f.Programmed;

                // Read the dumps in place against what is programmed: when the kernel holds exactly that (the steady
                // state), the full diff below would find nothing to do, and the check cost no garbage.
                if (await KernelMatchesAsync(f, cancellationToken).ConfigureAwait(false))
                {
                    Log.KernelMatches(_logger, f.Spec.Name, desired.Count);
                    continue;
                }
            }
            else
            {
                var direct = await DirectMapAsync(f, _peers.Current, cancellationToken).ConfigureAwait(false);
                desired = new Dictionary<IPNetwork, PeerPlan>(_peers.Current.Count);
                foreach (var lease in _peers.Current)
                {
                    if (PlanFor(f, lease, direct, log: !_synced) is { } plan)
                    {
                        desired[plan.Subnet] = plan;
                    }
                }
            }

            var observed = await ObserveAsync(f, cancellationToken).ConfigureAwait(false);
            var diff = VxlanPlanner.Diff(desired.Values, observed);
            if (trigger != ReconcileTrigger.Snapshot)
            {
                // The lease set only changes by events applied at once: what a later reconcile finds is drift.
                _metrics.Healed(HealKind.Peer, diff.Program.Count);
                _metrics.Healed(HealKind.Stale, diff.DeleteNeighbors.Count + diff.DeleteFdb.Count + diff.DeleteRoutes.Count);
            }

            if (!diff.IsEmpty)
            {
                // Every family applies its diff; the first problem is the one reported.
                var familyProblem = await ApplyAsync(f, diff.Program, diff.DeleteNeighbors, diff.DeleteFdb, diff.DeleteRoutes, cancellationToken).ConfigureAwait(false);
                problem ??= familyProblem;
            }

            // Keep the programmed set (and its watch view) when nothing changed: the periodic reconcile then leaves
            // only short-lived garbage instead of replacing a long-lived copy of every peer's plan each time.
            if (!ReferenceEquals(f.Programmed, desired) && !SamePlans(f.Programmed, desired))
            {
                f.Programmed = desired;
                f.PublishView();
            }

            f.PlannedVersion = _peersVersion;

            Log.Reconciled(_logger, f.Spec.Name, desired.Count, diff.Program.Count, diff.DeleteNeighbors.Count, diff.DeleteFdb.Count, diff.DeleteRoutes.Count);
        }

        Interlocked.Increment(ref _reconciles);
        _metrics.Reconciled(trigger, _context.TimeProvider.GetElapsedTime(started));
        if (problem is null)
        {
            _context.DataPath?.ReportHealthy();
        }
    }

    private static bool SamePlans(Dictionary<IPNetwork, PeerPlan> current, Dictionary<IPNetwork, PeerPlan> next)
    {
        if (current.Count != next.Count)
        {
            return false;
        }

        foreach (var (subnet, plan) in next)
        {
            if (!current.TryGetValue(subnet, out var known) || !known.Equals(plan))
            {
                return false;
            }
        }

        return true;
    }

    private async Task EnsureDevicesAsync(CancellationToken cancellationToken)
    {
        var repair = false;
        foreach (var f in _families)
        {
            var link = await _rtnl.Links.GetAsync(f.Spec.Name, cancellationToken).ConfigureAwait(false);
            if (link is null)
            {
                Log.DeviceDeleted(_logger, f.Spec.Name);
                repair = true;
            }
            else if (link.Index != f.Index || !link.IsUp || !Equals(link.MacAddress, f.Spec.Mac) || link.Mtu != f.Spec.Mtu || VxlanDevice.Incompatibility(link, f.Spec) is not null)
            {
                repair = true;
            }
            else if (f.LeaseSubnet is { } subnet)
            {
                await VxlanDevice.EnsureAddressAsync(_rtnl, f.Index, subnet, f.Overlay, cancellationToken).ConfigureAwait(false);
            }
        }

        if (repair)
        {
            _metrics.Healed(HealKind.Device, 1);
            await SetUpDevicesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private PeerPlan? PlanFor(FamilyState f, Lease lease, Dictionary<IPAddress, bool>? direct, bool log)
    {
        var plan = VxlanPlanner.Plan(lease, f.Spec.Family, _vx.DirectRouting, ip => direct is not null && direct.TryGetValue(ip, out var d) && d, out var skip);
        if (plan is null && skip is not null && log)
        {
            Log.SkippedLease(_logger, f.Spec.Family == AddressFamily.InterNetwork ? lease.Subnet : lease.IPv6Subnet, skip);
        }

        return plan;
    }

    private async ValueTask<Dictionary<IPAddress, bool>?> DirectMapAsync(FamilyState f, IEnumerable<Lease> leases, CancellationToken cancellationToken)
    {
        if (!_vx.DirectRouting)
        {
            return null;
        }

        var map = new Dictionary<IPAddress, bool>();
        foreach (var lease in leases)
        {
            var ip = f.Spec.Family == AddressFamily.InterNetwork ? lease.Attributes.PublicIP : lease.Attributes.PublicIPv6;
            if (ip is null || ip.AddressFamily != f.Spec.Family || map.ContainsKey(ip))
            {
                continue;
            }

            var route = await _rtnl.Routes.GetRouteToAsync(ip, cancellationToken).ConfigureAwait(false);
            map[ip] = route is not null && route.Gateway is null && route.OutputInterface != f.Index && route.Type == RouteType.Unicast;
        }

        return map;
    }

    private async ValueTask<bool> KernelMatchesAsync(FamilyState f, CancellationToken cancellationToken)
    {
        var check = f.Check;
        check.Reset(f.Index, f.Expected);
        await _rtnl.Neighbors.VisitAsync(f.Index, f.Spec.Family, check, cancellationToken).ConfigureAwait(false);
        await _rtnl.Fdb.VisitAsync(f.Index, check, cancellationToken).ConfigureAwait(false);
        await _rtnl.Routes.VisitAsync(new RouteFilter { Family = f.Spec.Family, Table = RouteTables.Main }, check, cancellationToken).ConfigureAwait(false);
        if (check.Matches())
        {
            return true;
        }

        Log.KernelDiffers(_logger, f.Spec.Name, check.Mismatch);
        return false;
    }

    private ValueTask<ObservedState> ObserveAsync(FamilyState f, CancellationToken cancellationToken) =>
        VxlanKernelCheck.ObserveAsync(_rtnl, f.Index, f.Spec.Family, f.Overlay, (RouteProtocol)_options.RouteProtocol, cancellationToken);

    private async Task ApplyEventsAsync(IReadOnlyList<LeaseEvent> events, CancellationToken cancellationToken)
    {
        foreach (var f in _families)
        {
            var added = events.Where(e => e.Kind == LeaseEventKind.Added).Select(e => e.Lease);
            var direct = await DirectMapAsync(f, added, cancellationToken).ConfigureAwait(false);
            var program = new List<PeerPlan>();
            var delNeighbors = new List<NeighborEntry>();
            var delFdb = new List<FdbEntry>();
            var delRoutes = new List<IPNetwork>();
            foreach (var e in events)
            {
                var subnet = f.Spec.Family == AddressFamily.InterNetwork ? e.Lease.Subnet : e.Lease.IPv6Subnet;
                if (subnet is not { } s)
                {
                    continue;
                }

                f.Programmed.TryGetValue(s, out var old);
                var plan = e.Kind == LeaseEventKind.Added ? PlanFor(f, e.Lease, direct, log: true) : null;
                if (old is not null && old != plan)
                {
                    if (plan is null)
                    {
                        delRoutes.Add(s);
                        f.Programmed.Remove(s);
                    }

                    if (old.Fdb is { } of && of != plan?.Fdb)
                    {
                        delFdb.Add(of);
                    }

                    if (old.Neighbor is { } on && plan?.Neighbor is null)
                    {
                        delNeighbors.Add(on);
                    }
                }
                else if (old is null && plan is null && e.Kind == LeaseEventKind.Removed &&
                    VxlanPlanner.Plan(e.Lease, f.Spec.Family, false, _ => false, out _) is { } guess)
                {
                    // Not programmed by us in this run (for example: left over from before a restart) — clean up anyway.
                    delRoutes.Add(s);
                    delFdb.Add(guess.Fdb!.Value);
                    delNeighbors.Add(guess.Neighbor!.Value);
                }

                if (plan is not null)
                {
                    program.Add(plan);
                    f.Programmed[s] = plan;
                }
            }

            // Programmed changed above whatever the kernel will say: the watch view (and the peer gauge) follow it
            // before the batch goes out, so the notifications of our own changes (the old entries of a peer whose MAC
            // or address moved) are not taken for someone else's, and what a heal after a failure programs is watched.
            f.PublishView();
            await ApplyAsync(f, program, delNeighbors, delFdb, delRoutes, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Applies deletions (routes, FDB, neighbours) and programs peers (neighbours, FDB, routes) in one netlink batch,
    /// then rolls back the peers that failed half-way, as flannel does per peer. Returns the problem reported to the
    /// node (<see cref="BackendContext.DataPath"/>) when peers failed, else null.
    /// </summary>
    private async Task<string?> ApplyAsync(FamilyState f, IReadOnlyList<PeerPlan> program, IReadOnlyList<NeighborEntry> delNeighbors, IReadOnlyList<FdbEntry> delFdb, IReadOnlyList<IPNetwork> delRoutes, CancellationToken cancellationToken)
    {
        if (program.Count == 0 && delNeighbors.Count == 0 && delFdb.Count == 0 && delRoutes.Count == 0)
        {
            return null;
        }

        var batch = _rtnl.CreateBatch();
        foreach (var dst in delRoutes)
        {
            batch.DeleteRoute(new RouteSpec(dst) { Table = RouteTables.Main });
        }

        foreach (var e in delFdb)
        {
            batch.DeleteFdb(new FdbSpec(f.Index, e.Mac, e.Destination));
        }

        foreach (var n in delNeighbors)
        {
            batch.DeleteNeighbor(f.Index, n.Address);
        }

        var neighborAt = new int[program.Count];
        var fdbAt = new int[program.Count];
        var routeAt = new int[program.Count];
        for (var i = 0; i < program.Count; i++)
        {
            neighborAt[i] = -1;
            if (program[i].Neighbor is { } n)
            {
                neighborAt[i] = batch.Count;
                batch.ReplaceNeighbor(new NeighborSpec(f.Index, n.Address, n.Mac) { State = NeighborState.Permanent });
            }
        }

        for (var i = 0; i < program.Count; i++)
        {
            fdbAt[i] = -1;
            if (program[i].Fdb is { } e)
            {
                fdbAt[i] = batch.Count;
                batch.ReplaceFdb(new FdbSpec(f.Index, e.Mac, e.Destination) { State = NeighborState.Permanent });
            }
        }

        for (var i = 0; i < program.Count; i++)
        {
            routeAt[i] = batch.Count;
            batch.ReplaceRoute(RouteSpecFor(f, program[i].Route));
        }

        var result = await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        if (result.FailedCount == 0)
        {
            return null;
        }

        _metrics.Failed(result.FailedCount);

        var rollback = _rtnl.CreateBatch();
        var failedPeers = 0;
        string? first = null;
        for (var i = 0; i < program.Count; i++)
        {
            var p = program[i];
            string? step = null;
            RtnetlinkBatchItemResult failed = default;
            if (neighborAt[i] >= 0 && !result[neighborAt[i]].Succeeded)
            {
                (step, failed) = ("neighbour", result[neighborAt[i]]);
            }
            else if (fdbAt[i] >= 0 && !result[fdbAt[i]].Succeeded)
            {
                (step, failed) = ("fdb", result[fdbAt[i]]);
            }
            else if (!result[routeAt[i]].Succeeded)
            {
                (step, failed) = ("route", result[routeAt[i]]);
            }

            if (step is null)
            {
                continue;
            }

            var why = $"{failed.Error} {failed.ExtendedAckMessage}".Trim();
            Log.PeerFailed(_logger, p.Subnet, step, why);
            failedPeers++;
            first ??= $"{p.Subnet} ({step} on {f.Spec.Name}): {why}";
            rollback.DeleteRoute(new RouteSpec(p.Subnet) { Table = RouteTables.Main });
            if (p.Fdb is { } e)
            {
                rollback.DeleteFdb(new FdbSpec(f.Index, e.Mac, e.Destination));
            }

            if (p.Neighbor is { } n)
            {
                rollback.DeleteNeighbor(f.Index, n.Address);
            }
        }

        // Failures from deletions alone need no rollback; the next reconcile sees whatever is left.
        if (rollback.Count > 0)
        {
            await rollback.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }

        if (first is null)
        {
            return null;
        }

        var problem = $"{failedPeers} of {program.Count} peer(s) could not be programmed; first: {first}";
        _context.DataPath?.ReportProblem(problem, null);
        return problem;
    }

    private RouteSpec RouteSpecFor(FamilyState f, PeerRoute route) => route.Direct
        ? new RouteSpec(route.Destination)
        {
            Gateway = route.Gateway,
            Protocol = (RouteProtocol)_options.RouteProtocol,
            Table = RouteTables.Main,
        }
        : new RouteSpec(route.Destination)
        {
            Gateway = route.Gateway,
            Device = f.Index,
            OnLink = true,
            Scope = RouteScope.Universe,
            Protocol = (RouteProtocol)_options.RouteProtocol,
            Table = RouteTables.Main,
        };

    private static bool InOverlay(FamilyState f, IPNetwork destination) => VxlanKernelCheck.InOverlay(f.Overlay, destination);

    private async Task RepublishAsync(CancellationToken cancellationToken)
    {
        var v4 = _families.FirstOrDefault(f => f.Spec.Family == AddressFamily.InterNetwork);
        var v6 = _families.FirstOrDefault(f => f.Spec.Family == AddressFamily.InterNetworkV6);
        var attributes = Lease.Attributes with
        {
            BackendData = v4 is null ? null : VtepData.Create(_vx.Vni, v4.Spec.Mac),
            BackendV6Data = v6 is null ? null : VtepData.Create(_vx.Vni, v6.Spec.Mac),
        };
        Log.Republished(_logger, VtepData.FormatMac((v4 ?? v6)!.Spec.Mac));
        Lease = await _context.SubnetManager.AcquireLeaseAsync(
            new LeaseRequest(attributes) { PreviousSubnet = Lease.Subnet, PreviousIPv6Subnet = Lease.IPv6Subnet },
            cancellationToken).ConfigureAwait(false);
        var state = VtepState.Load(_options.StateDirectory, _context.InstanceName, _vx.Vni, out _);
        state.Mac = v4?.Spec.Mac;
        state.V6Mac = v6?.Spec.Mac;
        if (state.TrySave() is { } problem)
        {
            Log.StateProblem(_logger, problem);
        }
    }

    private string DeviceNames => string.Join(", ", _families.Select(f => f.Spec.Name));

    private const string WatchStarted = "kernel watch (re)started";

    private void RequestHeal(string reason)
    {
        _healReason = reason;
        if (_healSignal.CurrentCount == 0)
        {
            try
            {
                _healSignal.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private async Task HealAsync(CancellationToken cancellationToken)
    {
        // A fault the kernel keeps refusing (say: the underlay MTU is too small for the VTEP) is retried with a
        // growing pause, so its log lines stay bounded: 0.2 s, 0.4 s, … up to 5 s; a success starts over.
        var retry = TimeSpan.FromMilliseconds(200);
        try
        {
            while (true)
            {
                await _healSignal.WaitAsync(cancellationToken).ConfigureAwait(false);

                // Coalesce the burst (a deleted device removes hundreds of entries at once).
                await Task.Delay(TimeSpan.FromMilliseconds(20), _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                _healSignal.Wait(0, CancellationToken.None);
                if (!_synced)
                {
                    continue;
                }

                if (_healReason == WatchStarted)
                {
                    Log.KernelCheck(_logger, WatchStarted); // routine: covers the moment before the watch was in place
                }
                else
                {
                    Log.KernelChanged(_logger, _healReason ?? "unknown");
                }

                try
                {
                    await ReconcileAsync(ReconcileTrigger.Heal, cancellationToken).ConfigureAwait(false);
                    retry = TimeSpan.FromMilliseconds(200);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.ReconcileFailed(_logger, ex);
                    _context.DataPath?.ReportProblem($"reconciling {DeviceNames} failed: {ex.Message}", ex);
                    RequestHeal("retry after a failed reconcile");
                    await Task.Delay(retry, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                    retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task PeriodicAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.ReconcileInterval, _context.TimeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!_synced)
                {
                    continue;
                }

                try
                {
                    await ReconcileAsync(ReconcileTrigger.Periodic, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.ReconcileFailed(_logger, ex);
                    _context.DataPath?.ReportProblem($"reconciling {DeviceNames} failed: {ex.Message}", ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task KernelWatchAsync(CancellationToken cancellationToken)
    {
        // Listen only once the first snapshot is programmed: while a subscriber exists the kernel builds a
        // notification for every entry we add (~10% of a 5,000-peer convergence). The reconcile requested on
        // (re)subscription covers anything removed before the watch was in place.
        try
        {
            await _firstSync.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                RequestHeal(WatchStarted);
                var groups = RtnetlinkGroups.Link | RtnetlinkGroups.Neighbor | RtnetlinkGroups.IPv4Route | RtnetlinkGroups.IPv6Route;
                await foreach (var e in _rtnl.WatchAsync(groups, cancellationToken).ConfigureAwait(false))
                {
                    if (Relevant(e) is { } why)
                    {
                        RequestHeal(why);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.WatchFailed(_logger, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private string? Relevant(RtnetlinkEvent e)
    {
        foreach (var f in _families)
        {
            var expected = f.Expected;
            switch (e)
            {
                case LinkEvent { Change: RtnetlinkChange.Removed } le when le.Link.Index == f.Index || le.Link.Name == f.Spec.Name:
                    return $"device {f.Spec.Name} deleted";
                case LinkEvent { Change: RtnetlinkChange.Added } le when le.Link.Index == f.Index && le.Link.MacAddress is { } m && !m.Equals(f.Spec.Mac):
                    return $"device {f.Spec.Name} MAC changed to {VtepData.FormatMac(m)}";
                case LinkEvent { Change: RtnetlinkChange.Added } le when le.Link.Index == f.Index && !le.Link.IsUp:
                    return $"device {f.Spec.Name} down"; // IPv4 drops the device's routes without telling anyone
                case RouteEvent re when re.Route.Table == RouteTables.Main &&
                    expected.Routes.TryGetValue(KernelKeys.Address(re.Route.Destination.BaseAddress), out var want) && want.Prefix == re.Route.Destination.PrefixLength:
                    var ours = re.Route.Type == RouteType.Unicast && re.Route.Gateway is { } gw &&
                        want.Matches(re.Route.Destination.PrefixLength, KernelKeys.Address(gw), re.Route.OutputInterface == f.Index, re.Route.OnLink);
                    if (re.Change == RtnetlinkChange.Removed ? ours || re.Route.Gateway is null : !ours)
                    {
                        // Our route went away, or — whoever wrote it — a route to a peer's subnet that is not ours replaced
                        // ours (or sits beside it, and the reconcile finds nothing to do). The removal of a route that
                        // is not the one we want (the old one of a peer whose plan just changed) is no news.
                        return $"route {re.Route.Destination} {(re.Change == RtnetlinkChange.Removed ? "deleted" : "replaced")}";
                    }

                    break;
                case NeighborEvent ne when ne.Neighbor.InterfaceIndex == f.Index && expected.Neighbors.TryGetValue(KernelKeys.Address(ne.Neighbor.Address), out var mac):
                    // A deletion notice carries the entry as it died (state NUD_FAILED): judge it by its MAC alone.
                    var sameMac = ne.Neighbor.LinkAddress is not { } lladdr || KernelKeys.Mac(lladdr) == mac;
                    if (ne.Change == RtnetlinkChange.Removed ? sameMac : !sameMac || ne.Neighbor.LinkAddress is null || (ne.Neighbor.State & NeighborState.Permanent) == 0)
                    {
                        return $"neighbour {ne.Neighbor.Address} {(ne.Change == RtnetlinkChange.Removed ? "deleted" : "replaced")}";
                    }

                    break;
                case FdbEvent fe when fe.Entry.InterfaceIndex == f.Index && expected.Fdb.TryGetValue(KernelKeys.Mac(fe.Entry.LinkAddress), out var dst):
                    var sameDst = fe.Entry.Destination is not { } d || KernelKeys.Address(d) == dst;
                    if (fe.Change == RtnetlinkChange.Removed ? sameDst : !sameDst || fe.Entry.Destination is null)
                    {
                        return $"FDB entry {VtepData.FormatMac(fe.Entry.LinkAddress)} {(fe.Change == RtnetlinkChange.Removed ? "deleted" : "replaced")}";
                    }

                    break;
            }
        }

        return e is ResyncEvent r ? "monitor resync: " + r.Reason : null;
    }

    /// <summary>Per-family state; <see cref="Expected"/> is an immutable snapshot the kernel watcher reads without the lock.</summary>
    private sealed class FamilyState(VxlanDeviceSpec spec)
    {
        public VxlanDeviceSpec Spec { get; set; } = spec;

        public int Index { get; set; }

        public IPNetwork? LeaseSubnet { get; init; }

        public IPNetwork? Overlay { get; init; }

        public Dictionary<IPNetwork, PeerPlan> Programmed { get; set; } = [];

        /// <summary>The lease-set version <see cref="Programmed"/> was planned from (-1: never planned).</summary>
        public long PlannedVersion { get; set; } = -1;

        /// <summary>What the device should hold, as of the last <see cref="PublishView"/>; read by the kernel watcher without the lock.</summary>
        public ExpectedKernelState Expected { get; private set; } = ExpectedKernelState.Empty;

        /// <summary>The in-place comparison of the kernel with <see cref="Expected"/> (used under the lock).</summary>
        public required VxlanKernelCheck Check { get; init; }

        public void PublishView()
        {
            Expected = new ExpectedKernelState(Programmed);
            PeerCount = Programmed.Count;
        }

        /// <summary>The peers programmed as of the last <see cref="PublishView"/> (read by the metrics gauge).</summary>
        public int PeerCount { get => Volatile.Read(ref _peerCount); private set => Volatile.Write(ref _peerCount, value); }

        private int _peerCount;
    }
}
