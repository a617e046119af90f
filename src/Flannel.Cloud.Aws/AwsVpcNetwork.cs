namespace Flannel.Cloud.Aws;

/// <summary>
/// The network an aws-vpc node runs: its lease, the interface MTU and a run loop that only waits (each node programs
/// its own route once, at registration). Teardown removes the node's route from every table it programmed.
/// </summary>
internal sealed class AwsVpcNetwork : INetwork
{
    private readonly IReadOnlyList<AwsVpcRouteTable> _tables;
    private readonly OverlayRoute _ownRoute;
    private readonly IDisposable _client;

    public AwsVpcNetwork(Lease lease, int mtu, IReadOnlyList<AwsVpcRouteTable> tables, OverlayRoute ownRoute, IDisposable client)
    {
        Lease = lease;
        Mtu = mtu;
        _tables = tables;
        _ownRoute = ownRoute;
        _client = client;
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

    public async ValueTask TeardownAsync(CancellationToken cancellationToken)
    {
        foreach (var table in _tables)
        {
            await table.DeleteAsync(_ownRoute, cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
