using System.Net;
using Amazon;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Aws;

/// <summary>
/// flannel's aws-vpc backend: acquires the lease, then makes the VPC route table(s) send the node's pod subnet to the
/// node's ENI. No encapsulation and no device.
/// </summary>
internal sealed class AwsVpcBackend : IBackend
{
    private readonly BackendContext _context;
    private readonly AwsVpcBackendOptions _options;
    private readonly ILogger _logger;

    public AwsVpcBackend(BackendContext context, AwsVpcBackendOptions options)
    {
        _context = context;
        _options = options;
        _logger = context.LoggerFactory.CreateLogger("Flannel.Cloud.Aws");
    }

    public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var backendConfig = AwsVpcBackendConfig.Parse(config.Backend);
        var address = _context.Interface.Address
            ?? throw new FlannelException($"aws-vpc needs the IPv4 address of the flannel interface {_context.Interface.Name} to find its ENI, but it has none");

        var lease = await _context.SubnetManager.AcquireLeaseAsync(
            new LeaseRequest(new LeaseAttributes { PublicIP = _context.Interface.PublicIP ?? address }) { PreviousSubnet = _context.PreviousSubnet },
            cancellationToken).ConfigureAwait(false);
        var subnet = lease.Subnet ?? throw new FlannelException("aws-vpc programs IPv4 routes only, but the lease has no IPv4 subnet");

        string instanceId, region;
        using (var http = new HttpClient { Timeout = _options.MetadataTimeout })
        {
            var imds = new Ec2Metadata(http, _options.MetadataEndpoint);
            instanceId = await imds.GetAsync("instance-id", cancellationToken).ConfigureAwait(false);
            region = await imds.GetAsync("placement/region", cancellationToken).ConfigureAwait(false);
        }

        var client = CreateClient(region);
        try
        {
            var ec2 = new Ec2Caller(client, _context.TimeProvider, _logger, _options.ThrottleAttempts, _options.ThrottleBaseDelay);
            var eni = await FindEniAsync(ec2, instanceId, address, cancellationToken).ConfigureAwait(false);
            Log.Discovered(_logger, instanceId, region, eni.NetworkInterfaceId, eni.SubnetId, eni.VpcId, address);
            await DisableSourceDestCheckAsync(ec2, eni, cancellationToken).ConfigureAwait(false);

            var tableIds = backendConfig.RouteTableIds.Count > 0
                ? backendConfig.RouteTableIds
                : [await DetectRouteTableAsync(ec2, eni, cancellationToken).ConfigureAwait(false)];
            var own = new OverlayRoute(subnet) { NextHop = eni.NetworkInterfaceId };
            var tables = new List<AwsVpcRouteTable>();
            foreach (var id in tableIds)
            {
                var table = new AwsVpcRouteTable(ec2, id, _logger);
                if (config.Network is { } network)
                {
                    await table.RemoveBlackholesAsync(network, cancellationToken).ConfigureAwait(false);
                }

                await table.ReplaceAsync(own, cancellationToken).ConfigureAwait(false);
                tables.Add(table);
            }

            return new RouteTableNetwork(_context, lease, _context.Interface.Mtu, tables, own, client)
            {
                ReconcileInterval = _options.RouteCheckInterval,
                RetryDelay = _options.RouteCheckRetryDelay,
            };
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private AmazonEC2Client CreateClient(string region)
    {
        var config = new AmazonEC2Config { MaxErrorRetry = _options.SdkMaxErrorRetry };
        if (_options.Ec2ServiceUrl is { } url)
        {
            config.ServiceURL = url.ToString();
            config.AuthenticationRegion = _options.AuthenticationRegion ?? region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }

        try
        {
            return _options.Credentials is { } credentials ? new AmazonEC2Client(credentials, config) : new AmazonEC2Client(config);
        }
        catch (AmazonClientException ex)
        {
            throw new FlannelException(
                "aws-vpc: the AWS SDK found no credentials (its default chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, " +
                "the shared profile, container credentials, the instance role); attach an instance role: " + ex.Message,
                ex);
        }
    }

    private static async ValueTask<InstanceNetworkInterface> FindEniAsync(Ec2Caller ec2, string instanceId, IPAddress address, CancellationToken cancellationToken)
    {
        var request = new DescribeInstancesRequest { InstanceIds = [instanceId] };
        var response = await ec2.CallAsync("DescribeInstances", instanceId, (c, ct) => c.DescribeInstancesAsync(request, ct), cancellationToken).ConfigureAwait(false);
        var instance = (response.Reservations ?? []).SelectMany(r => r.Instances ?? []).FirstOrDefault(i => i.InstanceId == instanceId)
            ?? throw new FlannelException($"aws-vpc: DescribeInstances returned no instance {instanceId} (the instance id came from instance metadata)");
        var text = address.ToString();
        var eni = (instance.NetworkInterfaces ?? []).FirstOrDefault(n =>
            (n.PrivateIpAddresses ?? []).Any(p => p.PrivateIpAddress == text) || n.PrivateIpAddress == text);
        return eni is { NetworkInterfaceId.Length: > 0 }
            ? eni
            : throw new FlannelException($"aws-vpc: no network interface of {instanceId} holds {text}, the address of the flannel interface; choose the interface with --iface or check the ENI's private IPs");
    }

    private async ValueTask DisableSourceDestCheckAsync(Ec2Caller ec2, InstanceNetworkInterface eni, CancellationToken cancellationToken)
    {
        if (eni.SourceDestCheck == false)
        {
            return;
        }

        try
        {
            var request = new ModifyNetworkInterfaceAttributeRequest { NetworkInterfaceId = eni.NetworkInterfaceId, SourceDestCheck = false };
            await ec2.CallAsync("ModifyNetworkInterfaceAttribute", eni.NetworkInterfaceId, (c, ct) => c.ModifyNetworkInterfaceAttributeAsync(request, ct), cancellationToken).ConfigureAwait(false);
            Log.SourceDestCheckDisabled(_logger, eni.NetworkInterfaceId);
        }
        catch (AwsApiException ex)
        {
            Log.SourceDestCheckFailed(_logger, eni.NetworkInterfaceId, ex.Message);
        }
    }

    private async ValueTask<string> DetectRouteTableAsync(Ec2Caller ec2, InstanceNetworkInterface eni, CancellationToken cancellationToken)
    {
        var bySubnet = new DescribeRouteTablesRequest { Filters = [new Filter("association.subnet-id", [eni.SubnetId])] };
        var subnetTables = await ec2.CallAsync("DescribeRouteTables", null, (c, ct) => c.DescribeRouteTablesAsync(bySubnet, ct), cancellationToken).ConfigureAwait(false);
        if (subnetTables.RouteTables?.FirstOrDefault(t => t.RouteTableId is { Length: > 0 }) is { } associated)
        {
            Log.UsingTable(_logger, associated.RouteTableId, "associated with subnet " + eni.SubnetId);
            return associated.RouteTableId;
        }

        var main = new DescribeRouteTablesRequest { Filters = [new Filter("association.main", ["true"]), new Filter("vpc-id", [eni.VpcId])] };
        var mainTables = await ec2.CallAsync("DescribeRouteTables", null, (c, ct) => c.DescribeRouteTablesAsync(main, ct), cancellationToken).ConfigureAwait(false);
        if (mainTables.RouteTables?.FirstOrDefault(t => t.RouteTableId is { Length: > 0 }) is { } mainTable)
        {
            Log.UsingTable(_logger, mainTable.RouteTableId, "main table of " + eni.VpcId);
            return mainTable.RouteTableId;
        }

        throw new FlannelException($"aws-vpc: subnet {eni.SubnetId} has no associated route table and VPC {eni.VpcId} has no main route table; set Backend.RouteTableID");
    }
}
