namespace Flannel.Internal;

/// <summary>A network that only holds a lease (flannel's SimpleNetwork): Run waits, teardown has nothing to remove.</summary>
internal sealed class SimpleNetwork(Lease lease, int mtu) : INetwork
{
    public Lease Lease { get; } = lease;

    public int Mtu { get; } = mtu;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public ValueTask TeardownAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
