namespace Flannel.HostGw;

/// <summary>An optional fast path of a route table: many replaces in one round trip (a netlink batch).</summary>
internal interface IRouteBatchTable
{
    /// <summary>Replaces every route; returns the error of each route that failed (null where it succeeded), in order.</summary>
    ValueTask<Exception?[]> ReplaceManyAsync(IReadOnlyList<OverlayRoute> routes, CancellationToken cancellationToken);
}
