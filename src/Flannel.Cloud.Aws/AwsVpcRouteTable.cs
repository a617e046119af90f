using System.Net;
using System.Net.Sockets;
using Amazon.EC2.Model;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Aws;

/// <summary>
/// One VPC route table as an <see cref="IRouteTable"/>. Routes target an ENI (<see cref="OverlayRoute.NextHop"/> =
/// <c>eni-…</c>) or an instance (<c>i-…</c>). Only such routes are listed; local, gateway and peering routes are
/// out of scope and never touched.
/// </summary>
internal sealed class AwsVpcRouteTable : IRouteTable
{
    private readonly Ec2Caller _ec2;
    private readonly ILogger _logger;

    public AwsVpcRouteTable(Ec2Caller ec2, string routeTableId, ILogger logger)
    {
        _ec2 = ec2;
        RouteTableId = routeTableId;
        _logger = logger;
    }

    public string RouteTableId { get; }

    /// <summary>How messages name the table.</summary>
    public override string ToString() => "VPC route table " + RouteTableId;

    public async ValueTask<IReadOnlyList<OverlayRoute>> ListAsync(CancellationToken cancellationToken)
    {
        var routes = await DescribeAsync(null, cancellationToken).ConfigureAwait(false);
        var result = new List<OverlayRoute>();
        foreach (var route in routes)
        {
            if (TargetOf(route) is { } target && IPNetwork.TryParse(route.DestinationCidrBlock, out var destination))
            {
                result.Add(new OverlayRoute(destination)
                {
                    NextHop = target,
                    Type = IsBlackhole(route) ? OverlayRouteType.Blackhole : OverlayRouteType.Unicast,
                });
            }
        }

        return result;
    }

    public async ValueTask ReplaceAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        var target = route.NextHop;
        if (string.IsNullOrEmpty(target) || !(target.StartsWith("eni-", StringComparison.Ordinal) || target.StartsWith("i-", StringComparison.Ordinal)))
        {
            throw new ArgumentException($"an aws-vpc route needs NextHop = an ENI id (eni-…) or an instance id (i-…), not \"{target}\"", nameof(route));
        }

        var destination = route.Destination.ToString();
        var existing = (await DescribeAsync(new Filter("route.destination-cidr-block", [destination]), cancellationToken).ConfigureAwait(false))
            .FirstOrDefault(r => r.DestinationCidrBlock == destination);
        if (existing is not null)
        {
            if (Matches(existing, target) && !IsBlackhole(existing) && existing.State?.Value == "active")
            {
                Log.RouteCorrect(_logger, destination, target, RouteTableId);
                return;
            }

            Log.ReplacingRoute(_logger, destination, RouteTableId, TargetOf(existing) ?? existing.GatewayId ?? "nothing", existing.State?.Value ?? "unknown", target);
            await ReplaceRouteAsync(destination, target, cancellationToken).ConfigureAwait(false);
            return;
        }

        Log.CreatingRoute(_logger, destination, target, RouteTableId);
        try
        {
            var request = new CreateRouteRequest { RouteTableId = RouteTableId, DestinationCidrBlock = destination };
            SetTarget(request, target);
            await _ec2.CallAsync("CreateRoute", RouteTableId, (c, ct) => c.CreateRouteAsync(request, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (AwsApiException ex) when (ex.Code == "RouteAlreadyExists")
        {
            // created by someone else between our read and our write
            await ReplaceRouteAsync(destination, target, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask<bool> DeleteAsync(OverlayRoute route, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(route);
        return await DeleteAsync(route.Destination.ToString(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the blackhole routes (targets deleted) whose destination lies inside <paramref name="network"/>.</summary>
    public async ValueTask<int> RemoveBlackholesAsync(IPNetwork network, CancellationToken cancellationToken)
    {
        var routes = await DescribeAsync(new Filter("route.state", ["blackhole"]), cancellationToken).ConfigureAwait(false);
        var removed = 0;
        foreach (var route in routes)
        {
            if (!IsBlackhole(route) || !IPNetwork.TryParse(route.DestinationCidrBlock, out var destination)
                || destination.BaseAddress.AddressFamily != AddressFamily.InterNetwork || !network.Contains(destination.BaseAddress))
            {
                continue;
            }

            Log.DeletingBlackhole(_logger, route.DestinationCidrBlock, RouteTableId);
            if (await DeleteAsync(route.DestinationCidrBlock, cancellationToken).ConfigureAwait(false))
            {
                removed++;
            }
        }

        return removed;
    }

    private async ValueTask<bool> DeleteAsync(string destination, CancellationToken cancellationToken)
    {
        try
        {
            var request = new DeleteRouteRequest { RouteTableId = RouteTableId, DestinationCidrBlock = destination };
            await _ec2.CallAsync("DeleteRoute", RouteTableId, (c, ct) => c.DeleteRouteAsync(request, ct), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AwsApiException ex) when (ex.Code == "InvalidRoute.NotFound")
        {
            return false;
        }
    }

    private async ValueTask ReplaceRouteAsync(string destination, string target, CancellationToken cancellationToken)
    {
        var request = new ReplaceRouteRequest { RouteTableId = RouteTableId, DestinationCidrBlock = destination };
        if (target.StartsWith("i-", StringComparison.Ordinal))
        {
            request.InstanceId = target;
        }
        else
        {
            request.NetworkInterfaceId = target;
        }

        await _ec2.CallAsync("ReplaceRoute", RouteTableId, (c, ct) => c.ReplaceRouteAsync(request, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every route of this table (EC2 filters select whole tables; callers re-check each route).</summary>
    private async ValueTask<IReadOnlyList<Route>> DescribeAsync(Filter? filter, CancellationToken cancellationToken)
    {
        var request = new DescribeRouteTablesRequest { RouteTableIds = [RouteTableId] };
        if (filter is not null)
        {
            request.Filters = [filter];
        }

        var response = await _ec2.CallAsync("DescribeRouteTables", RouteTableId, (c, ct) => c.DescribeRouteTablesAsync(request, ct), cancellationToken).ConfigureAwait(false);
        return (response.RouteTables ?? []).Where(t => t.RouteTableId == RouteTableId).SelectMany(t => t.Routes ?? []).ToList();
    }

    private static void SetTarget(CreateRouteRequest request, string target)
    {
        if (target.StartsWith("i-", StringComparison.Ordinal))
        {
            request.InstanceId = target;
        }
        else
        {
            request.NetworkInterfaceId = target;
        }
    }

    internal static string? TargetOf(Route route) =>
        !string.IsNullOrEmpty(route.NetworkInterfaceId) ? route.NetworkInterfaceId : !string.IsNullOrEmpty(route.InstanceId) ? route.InstanceId : null;

    private static bool Matches(Route route, string target) =>
        target.StartsWith("i-", StringComparison.Ordinal)
            ? string.Equals(route.InstanceId, target, StringComparison.Ordinal)
            : string.Equals(route.NetworkInterfaceId, target, StringComparison.Ordinal);

    private static bool IsBlackhole(Route route) => string.Equals(route.State?.Value, "blackhole", StringComparison.Ordinal);
}
