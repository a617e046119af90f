namespace Flannel;

/// <summary>
/// The <see cref="INetwork"/> of a backend whose whole data path is this node's own route in one or more route
/// tables (the cloud VPC backends): the route is programmed once, at registration, so running only waits; the MTU
/// is the interface's (no encapsulation); teardown deletes the node's route from every table.
/// </summary>
public sealed class RouteTableNetwork : INetwork
{
    private readonly IReadOnlyList<IRouteTable> _tables;
    private readonly OverlayRoute _ownRoute;
    private readonly IDisposable? _resources;

    /// <summary>Creates the network.</summary>
    /// <param name="lease">The node's lease.</param>
    /// <param name="mtu">The MTU pods use (the interface MTU).</param>
    /// <param name="tables">The route tables the node's route was programmed into.</param>
    /// <param name="ownRoute">The node's route (its subnet to itself).</param>
    /// <param name="resources">Clients to dispose with the network, or null.</param>
    public RouteTableNetwork(Lease lease, int mtu, IReadOnlyList<IRouteTable> tables, OverlayRoute ownRoute, IDisposable? resources)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(ownRoute);
        Lease = lease;
        Mtu = mtu;
        _tables = tables;
        _ownRoute = ownRoute;
        _resources = resources;
    }

    /// <inheritdoc />
    public Lease Lease { get; }

    /// <inheritdoc />
    public int Mtu { get; }

    /// <inheritdoc />
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        foreach (var table in _tables)
        {
            await table.DeleteAsync(_ownRoute, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _resources?.Dispose();
        return ValueTask.CompletedTask;
    }
}
