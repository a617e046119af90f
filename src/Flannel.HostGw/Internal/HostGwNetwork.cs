using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Flannel.HostGw;

/// <summary>
/// A registered host-gw network: one route per peer lease (its subnet via its public IP on the external
/// interface), kept in line with the lease set by events, a periodic full reconcile, and (with a kernel table)
/// kernel change notifications.
/// </summary>
internal sealed class HostGwNetwork : INetwork
{
    private readonly BackendContext _context;
    private readonly NetworkConfig _config;
    private readonly IRouteTable _table;
    private readonly HostGwOptions _options;
    private readonly Func<CancellationToken, IAsyncEnumerable<string>>? _kernelChanges;
    private readonly ILogger _logger;
    private readonly PeerLeases _peers;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _synced;
    private volatile IPNetwork[] _desiredView = [];
    private readonly HostGwMetrics _metrics;

    public HostGwNetwork(
        BackendContext context,
        NetworkConfig config,
        Lease lease,
        IRouteTable table,
        HostGwOptions options,
        Func<CancellationToken, IAsyncEnumerable<string>>? kernelChanges)
    {
        _context = context;
        _config = config;
        _table = table;
        _options = options;
        _kernelChanges = kernelChanges;
        _logger = context.LoggerFactory.CreateLogger("Flannel.HostGw");
        Lease = lease;
        _peers = new PeerLeases(lease);
        _metrics = new HostGwMetrics(context.MeterFactory, context.InstanceName, RouteCounts);
    }

    public Lease Lease { get; }

    public int Mtu => _context.Interface.Mtu;

    /// <summary>The number of completed full reconciles (diagnostics and tests).</summary>
    public int ReconcileCount { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var periodic = PeriodicAsync(stop.Token);
        var kernel = _kernelChanges is null ? Task.CompletedTask : KernelWatchAsync(_kernelChanges, stop.Token);
        try
        {
            await _peers.RunAsync(
                _context.SubnetManager,
                _gate,
                events => events is null ? ReconcileCoreAsync(ReconcileTrigger.Snapshot, cancellationToken) : ApplyEventsAsync(events, cancellationToken),
                ex =>
                {
                    _metrics.Failed(1);

                    // The next reconcile retries, the network keeps running.
                    Log.ReconcileFailed(_logger, ex, _options.ReconcileInterval);
                    _context.DataPath?.ReportProblem($"reconciling the peer routes failed: {ex.Message}", ex);
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
            await Task.WhenAll(periodic, kernel).ConfigureAwait(false);
        }
    }

    /// <summary>Runs one full reconcile now (the periodic loop and kernel notifications call this too).</summary>
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
            foreach (var route in await _table.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                if (InOverlay(route.Destination) && await _table.DeleteAsync(route, cancellationToken).ConfigureAwait(false))
                {
                    Log.RouteRemoved(_logger, route.Destination, "teardown");
                }
            }

            _desiredView = [];
        }
        finally
        {
            _gate.Release();
        }
    }

    public ValueTask DisposeAsync()
    {
        _gate.Dispose();
        _metrics.Dispose();
        return _table is IAsyncDisposable d ? d.DisposeAsync() : ValueTask.CompletedTask;
    }

    /// <summary>The routes the current peer set asks for, keyed by destination.</summary>
    internal Dictionary<IPNetwork, OverlayRoute> DesiredRoutes(bool log)
    {
        var desired = new Dictionary<IPNetwork, OverlayRoute>();
        foreach (var lease in _peers.Current)
        {
            foreach (var route in RoutesFor(lease, log))
            {
                desired[route.Destination] = route;
            }
        }

        return desired;
    }

    private IEnumerable<OverlayRoute> RoutesFor(Lease lease, bool log)
    {
        if (!string.Equals(lease.Attributes.BackendType, BackendType.HostGw.Value, StringComparison.OrdinalIgnoreCase))
        {
            if (log)
            {
                Log.ForeignLease(_logger, lease.Subnet ?? lease.IPv6Subnet, lease.Attributes.BackendType);
            }

            yield break;
        }

        if (_config.EnableIPv4 && lease.Subnet is { } v4)
        {
            if (lease.Attributes.PublicIP is { AddressFamily: AddressFamily.InterNetwork } gw)
            {
                yield return new OverlayRoute(v4) { Gateway = gw, Device = _context.Interface.Name, Table = _options.Table };
            }
            else if (log)
            {
                Log.NoPublicIP(_logger, v4, "IPv4");
            }
        }

        if (_config.EnableIPv6 && lease.IPv6Subnet is { } v6)
        {
            if (lease.Attributes.PublicIPv6 is { AddressFamily: AddressFamily.InterNetworkV6 } gw6)
            {
                yield return new OverlayRoute(v6) { Gateway = gw6, Device = _context.Interface.Name, Table = _options.Table };
            }
            else if (log)
            {
                Log.NoPublicIP(_logger, v6, "IPv6");
            }
        }
    }

    private async Task ApplyEventsAsync(IReadOnlyList<LeaseEvent> events, CancellationToken cancellationToken)
    {
        var added = new List<OverlayRoute>();
        foreach (var e in events)
        {
            if (e.Kind == LeaseEventKind.Added)
            {
                added.AddRange(RoutesFor(e.Lease, log: true));
            }
            else
            {
                // Keep the event order: install what was added before this removal first.
                ReportFailures(await ReplaceManyAsync(added, cancellationToken).ConfigureAwait(false), added.Count);
                added.Clear();
                foreach (var subnet in new[] { e.Lease.Subnet, e.Lease.IPv6Subnet })
                {
                    if (subnet is { } s && InOverlay(s))
                    {
                        try
                        {
                            if (await _table.DeleteAsync(new OverlayRoute(s) { Table = _options.Table, Device = _context.Interface.Name }, cancellationToken).ConfigureAwait(false))
                            {
                                Log.RouteRemoved(_logger, s, "lease removed");
                            }
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            _metrics.Failed(1);
                            Log.RouteFailed(_logger, ex, s, null);
                        }
                    }
                }
            }
        }

        ReportFailures(await ReplaceManyAsync(added, cancellationToken).ConfigureAwait(false), added.Count);

        // The kernel watch and the route gauge follow the events too, not just full reconciles.
        _desiredView = [.. DesiredRoutes(log: false).Keys];
    }

    /// <summary>Programs the routes; returns the ones that failed, with their errors (each logged), or null when none did.</summary>
    private async Task<List<(OverlayRoute Route, Exception Error)>?> ReplaceManyAsync(List<OverlayRoute> routes, CancellationToken cancellationToken)
    {
        List<(OverlayRoute, Exception)>? failed = null;
        if (routes.Count > 1 && _table is IRouteBatchTable batch)
        {
            Exception?[] errors;
            try
            {
                errors = await batch.ReplaceManyAsync(routes, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                errors = [.. routes.Select(_ => (Exception?)ex)];
            }

            for (var i = 0; i < routes.Count; i++)
            {
                if (errors[i] is { } error)
                {
                    Log.RouteFailed(_logger, error, routes[i].Destination, routes[i].Gateway);
                    (failed ??= []).Add((routes[i], error));
                }
                else
                {
                    Log.RouteInstalled(_logger, routes[i].Destination, routes[i].Gateway, routes[i].Device);
                }
            }

            return failed;
        }

        foreach (var route in routes)
        {
            try
            {
                await _table.ReplaceAsync(route, cancellationToken).ConfigureAwait(false);
                Log.RouteInstalled(_logger, route.Destination, route.Gateway, route.Device);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // flannel logs and leaves it to the route check; so do we (for example: gateway not on-link).
                Log.RouteFailed(_logger, ex, route.Destination, route.Gateway);
                (failed ??= []).Add((route, ex));
            }
        }

        return failed;
    }

    /// <summary>Tells the node (<see cref="BackendContext.DataPath"/>) about routes the kernel refused.</summary>
    private void ReportFailures(List<(OverlayRoute Route, Exception Error)>? failed, int attempted)
    {
        _metrics.Failed(failed?.Count ?? 0);
        if (failed is { Count: > 0 } && _context.DataPath is { } monitor)
        {
            var (route, error) = failed[0];
            monitor.ReportProblem($"{failed.Count} of {attempted} peer route(s) could not be programmed; first: {route.Destination} via {route.Gateway} dev {route.Device}: {error.Message}", error);
        }
    }

    private async Task ReconcileCoreAsync(ReconcileTrigger trigger, CancellationToken cancellationToken)
    {
        var started = _context.TimeProvider.GetTimestamp();
        var desired = DesiredRoutes(log: !_synced);
        var installed = 0;
        var removed = 0;
        var existing = await _table.ListAsync(cancellationToken).ConfigureAwait(false);
        var seen = new HashSet<IPNetwork>();
        foreach (var route in existing)
        {
            if (!InOverlay(route.Destination) || (_options.Table is { } t && route.Table is { } rt && rt != t))
            {
                continue;
            }

            if (desired.TryGetValue(route.Destination, out var want) && Matches(route, want))
            {
                seen.Add(route.Destination);
                continue;
            }

            if (!desired.ContainsKey(route.Destination))
            {
                try
                {
                    if (await _table.DeleteAsync(route, cancellationToken).ConfigureAwait(false))
                    {
                        removed++;
                        Log.RouteRemoved(_logger, route.Destination, "orphan: no such peer lease");
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _metrics.Failed(1);
                    Log.RouteFailed(_logger, ex, route.Destination, route.Gateway);
                }
            }
        }

        var install = desired.Where(d => !seen.Contains(d.Key)).Select(d => d.Value).ToList();
        if (trigger != ReconcileTrigger.Snapshot)
        {
            // The lease set only changes by events applied at once: what a later reconcile finds is drift.
            _metrics.Healed(HealKind.Route, install.Count);
            _metrics.Healed(HealKind.Stale, removed);
        }

        var failed = await ReplaceManyAsync(install, cancellationToken).ConfigureAwait(false);
        installed = install.Count - (failed?.Count ?? 0);
        ReportFailures(failed, desired.Count);
        if (failed is null)
        {
            _context.DataPath?.ReportHealthy();
        }

        _desiredView = [.. desired.Keys];
        ReconcileCount++;
        _metrics.Reconciled(trigger, _context.TimeProvider.GetElapsedTime(started));
        Log.Reconciled(_logger, desired.Count, installed, removed);
    }

    private (int IPv4, int IPv6) RouteCounts()
    {
        var view = _desiredView;
        var v4 = view.Count(n => n.BaseAddress.AddressFamily == AddressFamily.InterNetwork);
        return (v4, view.Length - v4);
    }

    private static bool Matches(OverlayRoute actual, OverlayRoute want) =>
        Equals(actual.Gateway, want.Gateway) &&
        (actual.Device is null || want.Device is null || actual.Device == want.Device) &&
        actual.Type == want.Type;

    private bool InOverlay(IPNetwork destination) =>
        (_config.Network is { } n && n.BaseAddress.AddressFamily == destination.BaseAddress.AddressFamily &&
            n.Contains(destination.BaseAddress) && destination.PrefixLength >= n.PrefixLength) ||
        (_config.IPv6Network is { } n6 && n6.BaseAddress.AddressFamily == destination.BaseAddress.AddressFamily &&
            n6.Contains(destination.BaseAddress) && destination.PrefixLength >= n6.PrefixLength);

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
                    Log.ReconcileFailed(_logger, ex, _options.ReconcileInterval);
                    _context.DataPath?.ReportProblem($"reconciling the peer routes failed: {ex.Message}", ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task KernelWatchAsync(Func<CancellationToken, IAsyncEnumerable<string>> changes, CancellationToken cancellationToken)
    {
        using var signal = new SemaphoreSlim(0, 1);
        string? reason = null;
        var healer = HealAsync(signal, () => reason, cancellationToken);

        // Listen only once the first snapshot is programmed (a subscriber makes the kernel build a notification per
        // route we add); the reconcile requested on (re)subscription covers the gap.
        try
        {
            await _firstSync.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await healer.ConfigureAwait(false);
            return;
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                reason = "kernel watch (re)started";
                if (signal.CurrentCount == 0)
                {
                    signal.Release();
                }

                await foreach (var what in changes(cancellationToken).ConfigureAwait(false))
                {
                    var view = _desiredView;
                    if (!_synced || (what.StartsWith("route ", StringComparison.Ordinal) && !view.Any(d => what.StartsWith($"route {d} ", StringComparison.Ordinal))))
                    {
                        continue;
                    }

                    reason = what;
                    if (signal.CurrentCount == 0)
                    {
                        try
                        {
                            signal.Release();
                        }
                        catch (SemaphoreFullException)
                        {
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Log.ReconcileFailed(_logger, ex, TimeSpan.FromSeconds(1));
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        await healer.ConfigureAwait(false);
    }

    private async Task HealAsync(SemaphoreSlim signal, Func<string?> reason, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await signal.WaitAsync(cancellationToken).ConfigureAwait(false);

                // Coalesce bursts (a flushed table removes many routes at once).
                await Task.Delay(TimeSpan.FromMilliseconds(20), _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                signal.Wait(0, CancellationToken.None);
                Log.KernelChanged(_logger, reason() ?? "unknown");
                try
                {
                    await ReconcileAsync(ReconcileTrigger.Heal, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.ReconcileFailed(_logger, ex, _options.ReconcileInterval);
                    _context.DataPath?.ReportProblem($"reconciling the peer routes failed: {ex.Message}", ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
