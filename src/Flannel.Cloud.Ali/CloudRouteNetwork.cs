namespace Flannel.Cloud.Ali;

/// <summary>
/// The network an ali-vpc node runs: its lease, the interface MTU (no encapsulation) and a run loop that only waits,
/// because each node programs its own route once, at registration. Teardown removes that route.
/// </summary>
internal sealed class CloudRouteNetwork : INetwork
{
    private readonly IRouteTable _table;
    private readonly OverlayRoute _ownRoute;
    private readonly IDisposable? _resources;

    public CloudRouteNetwork(Lease lease, int mtu, IRouteTable table, OverlayRoute ownRoute, IDisposable? resources)
    {
        Lease = lease;
        Mtu = mtu;
        _table = table;
        _ownRoute = ownRoute;
        _resources = resources;
    }

    public Lease Lease { get; }

    public int Mtu { get; }

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

    public async ValueTask TeardownAsync(CancellationToken cancellationToken) =>
        await _table.DeleteAsync(_ownRoute, cancellationToken).ConfigureAwait(false);

    public ValueTask DisposeAsync()
    {
        _resources?.Dispose();
        return ValueTask.CompletedTask;
    }
}
