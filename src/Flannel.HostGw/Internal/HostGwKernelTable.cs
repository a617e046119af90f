using System.Runtime.Versioning;
using Flannel.Kernel;
using Flannel.Netlink;

namespace Flannel.HostGw;

/// <summary>
/// Core's <see cref="KernelRouteTable"/> (scoped to the protocol mark) plus a batched replace, so that a snapshot
/// of thousands of peers is programmed in a few round trips instead of two per route.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class HostGwKernelTable : IRouteTable, IRouteBatchTable, IAsyncDisposable
{
    private readonly RtnetlinkClient _client;
    private readonly KernelRouteTable _table;
    private readonly uint _tableId;
    private readonly RouteProtocol _protocol;

    public HostGwKernelTable(string? namespacePath, HostGwOptions options, System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
    {
        // The socket is bound inside the namespace when it is opened; the handle is not needed afterwards.
        using (var ns = namespacePath is null ? null : NetworkNamespace.OpenByPath(namespacePath))
        {
            _client = RtnetlinkClient.Open(new RtnetlinkClientOptions { Namespace = ns, MeterFactory = meterFactory });
        }

        _tableId = (uint)(options.Table ?? (int)RouteTables.Main);
        _protocol = (RouteProtocol)options.RouteProtocol;
        _table = new KernelRouteTable(_client, new KernelRouteTableOptions { Table = (int)_tableId, Protocol = _protocol });
    }

    public ValueTask ReplaceAsync(OverlayRoute route, CancellationToken cancellationToken) => _table.ReplaceAsync(route, cancellationToken);

    public ValueTask<bool> DeleteAsync(OverlayRoute route, CancellationToken cancellationToken) => _table.DeleteAsync(route, cancellationToken);

    public ValueTask<IReadOnlyList<OverlayRoute>> ListAsync(CancellationToken cancellationToken) => _table.ListAsync(cancellationToken);

    public async ValueTask<Exception?[]> ReplaceManyAsync(IReadOnlyList<OverlayRoute> routes, CancellationToken cancellationToken)
    {
        var errors = new Exception?[routes.Count];
        var devices = new Dictionary<string, int?>(StringComparer.Ordinal);
        var batch = _client.CreateBatch();
        var positions = new int[routes.Count];
        for (var i = 0; i < routes.Count; i++)
        {
            var r = routes[i];
            int? device = null;
            if (r.Device is { } name)
            {
                if (!devices.TryGetValue(name, out device))
                {
                    device = (await _client.Links.GetAsync(name, cancellationToken).ConfigureAwait(false))?.Index;
                    devices[name] = device;
                }

                if (device is null)
                {
                    errors[i] = new FlannelException($"route device '{name}' does not exist");
                    positions[i] = -1;
                    continue;
                }
            }

            positions[i] = batch.Count;
            batch.ReplaceRoute(new RouteSpec(r.Destination)
            {
                Gateway = r.Gateway,
                Device = device,
                OnLink = r.OnLink,
                Type = r.Type == OverlayRouteType.Blackhole ? RouteType.Blackhole : RouteType.Unicast,
                Table = (uint)(r.Table ?? (int)_tableId),
                Protocol = _protocol,
            });
        }

        if (batch.Count > 0)
        {
            var result = await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < routes.Count; i++)
            {
                if (positions[i] >= 0 && result[positions[i]] is { Succeeded: false } failed)
                {
                    errors[i] = new NetlinkException(failed.Operation, failed.Error, failed.ExtendedAckMessage);
                }
            }
        }

        return errors;
    }

    public async ValueTask DisposeAsync()
    {
        await _table.DisposeAsync().ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);
    }
}
