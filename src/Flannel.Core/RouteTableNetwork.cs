using Flannel.Internal;
using Microsoft.Extensions.Logging;

namespace Flannel;

/// <summary>
/// The <see cref="INetwork"/> of a backend whose whole data path is this node's own route in one or more route
/// tables (the cloud VPC backends): the route is programmed at registration and then checked again every
/// <see cref="ReconcileInterval"/> (put back when someone deleted or changed it); the MTU is the interface's (no
/// encapsulation); teardown deletes the node's route from every table.
/// </summary>
/// <remarks>
/// A reconcile that cannot program the route in some table (the cloud API call fails after the table's own retries)
/// is reported to <see cref="BackendContext.DataPath"/> as a degraded data path naming the subnet, the table and the
/// error (a credentials or permission error says so), and retried sooner: after <see cref="RetryDelay"/>, doubling up
/// to <see cref="ReconcileInterval"/>. The next reconcile that programs every table reports the data path healthy.
/// <see cref="RunAsync"/> never fails for such an error.
/// </remarks>
public sealed class RouteTableNetwork : INetwork
{
    private readonly BackendContext _context;
    private readonly IReadOnlyList<IRouteTable> _tables;
    private readonly OverlayRoute _ownRoute;
    private readonly IDisposable? _resources;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _tornDown;
    private int _reconciles;

    /// <summary>Creates the network.</summary>
    /// <param name="context">The backend's context: where data-path problems are reported, the clock and the loggers.</param>
    /// <param name="lease">The node's lease.</param>
    /// <param name="mtu">The MTU pods use (the interface MTU).</param>
    /// <param name="tables">The route tables the node's route was programmed into.</param>
    /// <param name="ownRoute">The node's route (its subnet to itself).</param>
    /// <param name="resources">Clients to dispose with the network, or null.</param>
    public RouteTableNetwork(BackendContext context, Lease lease, int mtu, IReadOnlyList<IRouteTable> tables, OverlayRoute ownRoute, IDisposable? resources)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(ownRoute);
        _context = context;
        Lease = lease;
        Mtu = mtu;
        _tables = tables;
        _ownRoute = ownRoute;
        _resources = resources;
        _logger = context.LoggerFactory.CreateLogger("Flannel.RouteTableNetwork");
    }

    /// <inheritdoc />
    public Lease Lease { get; }

    /// <inheritdoc />
    public int Mtu { get; }

    /// <summary>
    /// How often <see cref="RunAsync"/> checks (and, when needed, re-programs) the node's route in every table;
    /// <see cref="Timeout.InfiniteTimeSpan"/> programs it only at registration, as flannel did. Default: 5 minutes.
    /// </summary>
    public TimeSpan ReconcileInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The first retry after a reconcile failed (doubling on each further failure, up to
    /// <see cref="ReconcileInterval"/>). Default: 10 seconds.
    /// </summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Completed reconciles, successful or not (diagnostics and tests).</summary>
    public int ReconcileCount => Volatile.Read(ref _reconciles);

    /// <inheritdoc />
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var failures = 0;
            while (true)
            {
                var delay = failures == 0 ? ReconcileInterval : Backoff(failures);
                await Task.Delay(delay, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                failures = await ReconcileAsync(cancellationToken).ConfigureAwait(false) ? 0 : failures + 1;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Programs the node's route in every table now (a no-op where it is already right), reports the outcome to
    /// <see cref="BackendContext.DataPath"/>, and returns whether every table has it.
    /// </summary>
    /// <param name="cancellationToken">Cancels the reconcile.</param>
    /// <returns>True when the route is in place in every table; false when some table could not be programmed (reported).</returns>
    public async Task<bool> ReconcileAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_tornDown)
            {
                return true;
            }

            var failed = 0;
            (IRouteTable Table, Exception Error)? first = null;
            foreach (var table in _tables)
            {
                try
                {
                    await table.ReplaceAsync(_ownRoute, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    failed++;
                    first ??= (table, ex);
                    CoreLog.RouteReconcileFailed(_logger, ex, _ownRoute.Destination, table.ToString() ?? table.GetType().Name);
                }
            }

            Interlocked.Increment(ref _reconciles);
            if (first is { } f)
            {
                _context.DataPath?.ReportProblem(Describe(failed, f.Table, f.Error), f.Error);
                return false;
            }

            CoreLog.RouteReconciled(_logger, _ownRoute.Destination, _tables.Count);
            _context.DataPath?.ReportHealthy();
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _tornDown = true;
            foreach (var table in _tables)
            {
                await table.DeleteAsync(_ownRoute, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _resources?.Dispose(); // the gate is not disposed: a check racing the disposal must not fault RunAsync
        return ValueTask.CompletedTask;
    }

    private string Describe(int failed, IRouteTable table, Exception error)
    {
        var what = error is FlannelException { IsCredentialsError: true }
            ? "the cloud API refused this node's credentials or their permissions"
            : "the cloud API call failed";
        var count = _tables.Count > 1 ? $" ({failed} of {_tables.Count} route tables)" : string.Empty;
        var nextHop = _ownRoute.NextHop is { } hop ? $" → {hop}" : string.Empty;
        return $"the route for subnet {_ownRoute.Destination}{nextHop} could not be programmed in {table}{count}: {what}: {error.Message}";
    }

    private TimeSpan Backoff(int failures)
    {
        var retry = RetryDelay <= TimeSpan.Zero ? TimeSpan.FromSeconds(1) : RetryDelay;
        var ticks = retry.Ticks * (1L << Math.Min(failures - 1, 16));
        return ReconcileInterval == Timeout.InfiniteTimeSpan || ticks < ReconcileInterval.Ticks ? TimeSpan.FromTicks(ticks) : ReconcileInterval;
    }
}
