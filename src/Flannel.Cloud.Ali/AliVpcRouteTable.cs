using System.Net;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Ali;

/// <summary>
/// One Alibaba Cloud VPC route table as an <see cref="IRouteTable"/>: custom entries whose next hop is an ECS
/// instance (<see cref="OverlayRoute.NextHop"/> = instance id). Writes retry Alibaba's "busy" codes and wait, bounded,
/// until the entry is Available (or gone).
/// </summary>
internal sealed class AliVpcRouteTable : IRouteTable
{
    private readonly AliVpcClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryDelay;
    private readonly TimeSpan _pollInterval;
    private readonly TimeSpan _timeout;

    public AliVpcRouteTable(AliVpcClient client, string routeTableId, AliVpcBackendOptions options, TimeProvider time, ILogger logger)
    {
        _client = client;
        RouteTableId = routeTableId;
        _time = time;
        _logger = logger;
        _retryDelay = options.RetryDelay;
        _pollInterval = options.PollInterval;
        _timeout = options.OperationTimeout;
    }

    public string RouteTableId { get; }

    /// <summary>How messages name the table.</summary>
    public override string ToString() => "VPC route table " + RouteTableId;

    public async ValueTask<IReadOnlyList<OverlayRoute>> ListAsync(CancellationToken cancellationToken)
    {
        var entries = await RetryAsync("DescribeRouteEntryList", Deadline(), ct => _client.DescribeRouteEntryListAsync(RouteTableId, null, ct), cancellationToken).ConfigureAwait(false);
        var routes = new List<OverlayRoute>();
        foreach (var entry in entries)
        {
            if (ToRoute(entry) is { } route)
            {
                routes.Add(route);
            }
        }

        return routes;
    }

    public async ValueTask ReplaceAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (string.IsNullOrEmpty(route.NextHop))
        {
            throw new ArgumentException("an ali-vpc route needs NextHop (the ECS instance id)", nameof(route));
        }

        var destination = route.Destination.ToString();
        var deadline = Deadline();
        for (var round = 0; ; round++)
        {
            var entries = await ReadDestinationAsync(destination, deadline, cancellationToken).ConfigureAwait(false);
            var ours = entries.FirstOrDefault(e => NextHopOf(e) == route.NextHop);
            foreach (var other in entries.Where(e => NextHopOf(e) is { } hop && hop != route.NextHop))
            {
                var hop = NextHopOf(other)!;
                Log.ReplacingConflict(_logger, destination, RouteTableId, hop);
                await DeleteEntryAsync(destination, hop, deadline, cancellationToken).ConfigureAwait(false);
            }

            if (ours is null)
            {
                Log.CreatingRoute(_logger, destination, route.NextHop, RouteTableId);

                // one token per logical create, reused by its retries, so a retried create cannot add a second entry
                var clientToken = "flannel-" + Guid.NewGuid().ToString("N");
                try
                {
                    await RetryAsync("CreateRouteEntry", deadline, async ct =>
                    {
                        await _client.CreateRouteEntryAsync(RouteTableId, destination, route.NextHop, clientToken, ct).ConfigureAwait(false);
                        return true;
                    }, cancellationToken).ConfigureAwait(false);
                }
                catch (AliApiException ex) when (IsDuplicate(ex.Code) && round < 3)
                {
                    // someone else's entry for this CIDR appeared between our read and our create: read again
                    continue;
                }
            }

            await WaitAsync(destination, route.NextHop, deadline, cancellationToken).ConfigureAwait(false);
            Log.RouteInPlace(_logger, destination, route.NextHop);
            return;
        }
    }

    public async ValueTask<bool> DeleteAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        var destination = route.Destination.ToString();
        var deadline = Deadline();
        var entries = await ReadDestinationAsync(destination, deadline, cancellationToken).ConfigureAwait(false);
        var removed = false;
        foreach (var entry in entries)
        {
            if (NextHopOf(entry) is { } hop)
            {
                removed |= await DeleteEntryAsync(destination, hop, deadline, cancellationToken).ConfigureAwait(false);
            }
        }

        return removed;
    }

    /// <summary>Deletes one entry (destination + next hop), then waits until it is gone; false when it was already gone.</summary>
    internal async ValueTask<bool> DeleteEntryAsync(string destination, string nextHop, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        try
        {
            await RetryAsync("DeleteRouteEntry", deadline, async ct =>
            {
                await _client.DeleteRouteEntryAsync(RouteTableId, destination, nextHop, ct).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AliApiException ex) when (ex.Code == "InvalidRouteEntry.NotFound")
        {
            return false;
        }

        while (true)
        {
            var entries = await ReadDestinationAsync(destination, deadline, cancellationToken).ConfigureAwait(false);
            if (!entries.Any(e => NextHopOf(e) == nextHop))
            {
                Log.DeletedRoute(_logger, destination, nextHop, RouteTableId);
                return true;
            }

            await PauseAsync(_pollInterval, deadline, $"route entry {destination} -> {nextHop} to disappear", cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask WaitAsync(string destination, string nextHop, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            var entries = await ReadDestinationAsync(destination, deadline, cancellationToken).ConfigureAwait(false);
            var ours = entries.FirstOrDefault(e => NextHopOf(e) == nextHop);
            if (ours is null)
            {
                throw new FlannelException($"ali-vpc: route entry {destination} -> {nextHop} vanished from {RouteTableId} after it was created");
            }

            if (string.Equals(ours.Status, "Available", StringComparison.Ordinal))
            {
                return;
            }

            await PauseAsync(_pollInterval, deadline, $"route entry {destination} -> {nextHop} to become Available (last status {ours.Status ?? "none"})", cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<IReadOnlyList<AliRouteEntry>> ReadDestinationAsync(string destination, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var entries = await RetryAsync("DescribeRouteEntryList", deadline, ct => _client.DescribeRouteEntryListAsync(RouteTableId, destination, ct), cancellationToken).ConfigureAwait(false);

        // the API filters by destination; check again so that a lax answer cannot make us touch another entry
        return entries.Where(e => string.Equals(e.DestinationCidrBlock, destination, StringComparison.Ordinal) && string.Equals(e.Type ?? "Custom", "Custom", StringComparison.Ordinal)).ToList();
    }

    private async ValueTask<T> RetryAsync<T>(string action, DateTimeOffset deadline, Func<CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call(cancellationToken).ConfigureAwait(false);
            }
            catch (AliApiException ex) when (ex.IsTransient)
            {
                var delay = _retryDelay;
                if (_time.GetUtcNow() + delay > deadline)
                {
                    throw new FlannelException($"ali-vpc: {action} on {RouteTableId} still failing after {attempt} attempts within {_timeout}: {ex.Message}", ex);
                }

                Log.Retrying(_logger, action, ex.Code.Length > 0 ? ex.Code : $"HTTP {(int)ex.StatusCode}", delay, attempt);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask PauseAsync(TimeSpan delay, DateTimeOffset deadline, string what, CancellationToken cancellationToken)
    {
        if (_time.GetUtcNow() + delay > deadline)
        {
            throw new FlannelException($"ali-vpc: timed out after {_timeout} waiting for {what} in {RouteTableId}");
        }

        await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
    }

    private DateTimeOffset Deadline() => _time.GetUtcNow() + _timeout;

    internal static string? NextHopOf(AliRouteEntry entry)
    {
        var hops = entry.NextHops?.NextHop;
        if (hops is not { Count: 1 })
        {
            return null; // none or ECMP: not a flannel entry
        }

        return string.Equals(hops[0].NextHopType, "Instance", StringComparison.Ordinal) ? hops[0].NextHopId : null;
    }

    private static OverlayRoute? ToRoute(AliRouteEntry entry)
    {
        if (NextHopOf(entry) is not { } hop || !IPNetwork.TryParse(entry.DestinationCidrBlock, out var destination))
        {
            return null;
        }

        return new OverlayRoute(destination) { NextHop = hop };
    }

    private static bool IsDuplicate(string code) =>
        code is "InvalidCIDRBlock.Duplicate" or "RouterEntryConflict.Duplicated" or "InvalidRouteEntry.Duplicate";
}
