using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Gce;

/// <summary>
/// flannel's gce backend: acquires the lease, then makes a Compute Engine route send the node's pod subnet to the
/// node's instance. No encapsulation and no device; other nodes' routes are never touched.
/// </summary>
internal sealed class GceBackend : IBackend
{
    private readonly BackendContext _context;
    private readonly GceBackendOptions _options;
    private readonly ILogger _logger;

    public GceBackend(BackendContext context, GceBackendOptions options)
    {
        _context = context;
        _options = options;
        _logger = context.LoggerFactory.CreateLogger("Flannel.Cloud.Gce");
    }

    public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var lease = await _context.SubnetManager.AcquireLeaseAsync(
            new LeaseRequest(new LeaseAttributes { PublicIP = _context.Interface.PublicIP ?? _context.Interface.Address }) { PreviousSubnet = _context.PreviousSubnet },
            cancellationToken).ConfigureAwait(false);
        var subnet = lease.Subnet ?? throw new FlannelException("gce programs IPv4 routes only, but the lease has no IPv4 subnet");

        var http = new HttpClient { Timeout = _options.RequestTimeout };
        try
        {
            var metadata = new GceMetadataClient(http, _options.MetadataEndpoint);
            var networkName = await metadata.GetLastElementAsync("instance/network-interfaces/0/network", cancellationToken).ConfigureAwait(false);
            var project = await metadata.GetAsync("project/project-id", cancellationToken).ConfigureAwait(false);
            var instanceName = await metadata.GetAsync("instance/name", cancellationToken).ConfigureAwait(false);
            var zone = await metadata.GetLastElementAsync("instance/zone", cancellationToken).ConfigureAwait(false);
            Log.Discovered(_logger, instanceName, project, zone, networkName);

            var tokens = _options.TokenSource ?? new GceMetadataTokenSource(metadata, _context.TimeProvider);
            var compute = new GceComputeClient(http, _options, tokens, _context.TimeProvider, _logger);
            var network = await compute.GetNetworkAsync(project, networkName, cancellationToken).ConfigureAwait(false);
            var instance = await compute.GetInstanceAsync(project, zone, instanceName, cancellationToken).ConfigureAwait(false);
            var networkLink = network.SelfLink is { Length: > 0 } n ? n : throw new GceApiException($"gce: networks.get {networkName} returned no selfLink");
            var instanceLink = instance.SelfLink is { Length: > 0 } i ? i : throw new GceApiException($"gce: instances.get {instanceName} returned no selfLink");
            if (instance.CanIpForward == false)
            {
                Log.NoIpForwarding(_logger, instanceName);
            }

            var table = new GceRouteTable(compute, project, networkLink, _logger);
            var own = new OverlayRoute(subnet) { NextHop = instanceLink };
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
}
