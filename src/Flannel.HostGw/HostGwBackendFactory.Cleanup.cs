namespace Flannel.HostGw;

public sealed partial class HostGwBackendFactory : IBackendCleanup
{
    /// <inheritdoc />
    /// <remarks>Deletes every route this backend marks as its own (protocol <see cref="HostGwOptions.RouteProtocol"/>).</remarks>
    public async ValueTask CleanupAsync(BackendContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var table = _tableFactory(context, _options);
        try
        {
            foreach (var route in await table.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                await table.DeleteAsync(route, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            switch (table)
            {
                case IAsyncDisposable a:
                    await a.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable d:
                    d.Dispose();
                    break;
            }
        }
    }
}
