using System.Net;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Ali;

/// <summary>
/// flannel's ali-vpc backend: acquires the lease, then makes the VPC route table send the node's pod subnet to the
/// node's ECS instance. No encapsulation and no device; other nodes' entries are left alone.
/// </summary>
internal sealed class AliVpcBackend : IBackend
{
    private readonly BackendContext _context;
    private readonly AliVpcBackendOptions _options;
    private readonly ILogger _logger;

    public AliVpcBackend(BackendContext context, AliVpcBackendOptions options)
    {
        _context = context;
        _options = options;
        _logger = context.LoggerFactory.CreateLogger("Flannel.Cloud.Ali");
    }

    public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var credentials = AliVpcBackendConfig.Parse(config.Backend).ResolveCredentials(_options.EnvironmentVariableReader);
        Log.CredentialsSource(_logger, credentials.Source, credentials.IdHint);

        var lease = await _context.SubnetManager.AcquireLeaseAsync(
            new LeaseRequest(new LeaseAttributes { PublicIP = _context.Interface.PublicIP ?? _context.Interface.Address })
            {
                PreviousSubnet = _context.PreviousSubnet,
            },
            cancellationToken).ConfigureAwait(false);
        var subnet = lease.Subnet ?? throw new FlannelException("ali-vpc programs IPv4 routes only, but the lease has no IPv4 subnet");

        var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = _options.RequestTimeout };
        try
        {
            var metadata = new AliMetadataClient(http, _options.MetadataEndpoint, _options.MetadataAttempts, _options.MetadataRetryDelay, _context.TimeProvider, _logger);
            var regionId = (await metadata.GetAsync("region-id", true, cancellationToken).ConfigureAwait(false))!;
            var instanceId = (await metadata.GetAsync("instance-id", true, cancellationToken).ConfigureAwait(false))!;
            var vpcId = (await metadata.GetAsync("vpc-id", true, cancellationToken).ConfigureAwait(false))!;
            var vswitchId = await metadata.GetAsync("vswitch-id", false, cancellationToken).ConfigureAwait(false);

            var endpoint = _options.VpcEndpoint ?? new Uri($"https://vpc.{regionId}.aliyuncs.com");
            var client = new AliVpcClient(http, endpoint, credentials, regionId, _context.TimeProvider, _logger);
            var tableId = await FindRouteTableAsync(client, vpcId, vswitchId, cancellationToken).ConfigureAwait(false);
            Log.Discovered(_logger, instanceId, regionId, vpcId, tableId);

            var table = new AliVpcRouteTable(client, tableId, _options, _context.TimeProvider, _logger);
            await RemoveStaleEntriesAsync(table, instanceId, subnet, cancellationToken).ConfigureAwait(false);
            var own = new OverlayRoute(subnet) { NextHop = instanceId };
            await table.ReplaceAsync(own, cancellationToken).ConfigureAwait(false);
            return new RouteTableNetwork(_context, lease, _context.Interface.Mtu, [table], own, http)
            {
                ReconcileInterval = _options.RouteCheckInterval,
                RetryDelay = _options.RouteCheckRetryDelay,
            };
        }
        catch
        {
            http.Dispose();
            throw;
        }
    }

    /// <summary>The table of the node's vSwitch if one is bound to it, else the VPC's system table.</summary>
    private static async ValueTask<string> FindRouteTableAsync(AliVpcClient client, string vpcId, string? vswitchId, CancellationToken cancellationToken)
    {
        var tables = await client.DescribeRouteTableListAsync(vpcId, cancellationToken).ConfigureAwait(false);
        var bound = vswitchId is null ? null : tables.FirstOrDefault(t => t.VSwitchIds?.VSwitchId?.Contains(vswitchId) == true && !string.IsNullOrEmpty(t.RouteTableId));
        var chosen = bound ?? tables.FirstOrDefault(t => string.Equals(t.RouteTableType, "System", StringComparison.Ordinal) && !string.IsNullOrEmpty(t.RouteTableId));
        return chosen?.RouteTableId
            ?? throw new FlannelException($"ali-vpc: VPC {vpcId} has no system route table in DescribeRouteTableList (got {tables.Count} tables)");
    }

    /// <summary>flannel's "one flannel subnet per instance": other custom entries to this instance go, except 0.0.0.0/0.</summary>
    private async ValueTask RemoveStaleEntriesAsync(AliVpcRouteTable table, string instanceId, IPNetwork subnet, CancellationToken cancellationToken)
    {
        var routes = await table.ListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var route in routes)
        {
            if (route.NextHop != instanceId || route.Destination == subnet || route.Destination.PrefixLength == 0)
            {
                continue;
            }

            var destination = route.Destination.ToString();
            Log.DeletingStale(_logger, destination, instanceId);
            await table.DeleteEntryAsync(destination, instanceId, _context.TimeProvider.GetUtcNow() + _options.OperationTimeout, cancellationToken).ConfigureAwait(false);
        }
    }
}
