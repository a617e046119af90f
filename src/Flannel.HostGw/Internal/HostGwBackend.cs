using Microsoft.Extensions.Logging;

namespace Flannel.HostGw;

/// <summary>The host-gw backend bound to one node: acquires the lease with host-gw attributes and hands out the network.</summary>
internal sealed class HostGwBackend : IBackend
{
    private readonly BackendContext _context;
    private readonly HostGwOptions _options;
    private readonly Func<BackendContext, HostGwOptions, IRouteTable> _tableFactory;
    private readonly Func<BackendContext, HostGwOptions, Func<CancellationToken, IAsyncEnumerable<string>>?> _changeFeed;

    public HostGwBackend(
        BackendContext context,
        HostGwOptions options,
        Func<BackendContext, HostGwOptions, IRouteTable> tableFactory,
        Func<BackendContext, HostGwOptions, Func<CancellationToken, IAsyncEnumerable<string>>?> changeFeed)
    {
        _context = context;
        _options = options;
        _tableFactory = tableFactory;
        _changeFeed = changeFeed;
    }

    public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var iface = _context.Interface;
        if (config.EnableIPv4 && iface.PublicIP is null)
        {
            throw new FlannelConfigurationException("--public-ip", null, $"host-gw needs an IPv4 address on {iface.Name} when EnableIPv4 is set");
        }

        if (config.EnableIPv6 && iface.PublicIPv6 is null)
        {
            throw new FlannelConfigurationException("public-ipv6", null, $"host-gw needs an IPv6 address on {iface.Name} when EnableIPv6 is set");
        }

        var attributes = new LeaseAttributes
        {
            PublicIP = config.EnableIPv4 ? iface.PublicIP : null,
            PublicIPv6 = config.EnableIPv6 ? iface.PublicIPv6 : null,
            BackendType = BackendType.HostGw.Value,
        };
        var request = new LeaseRequest(attributes)
        {
            PreviousSubnet = _context.PreviousSubnet,
            PreviousIPv6Subnet = _context.PreviousIPv6Subnet,
        };
        var lease = await _context.SubnetManager.AcquireLeaseAsync(request, cancellationToken).ConfigureAwait(false);
        Log.Registered(
            _context.LoggerFactory.CreateLogger("Flannel.HostGw"),
            _context.InstanceName,
            (lease.Subnet, lease.IPv6Subnet) switch
            {
                ({ } v4, { } v6) => $"{v4} + {v6}",
                (var v4, var v6) => (v4 ?? v6)?.ToString() ?? "(none)",
            },
            iface.PublicIP,
            iface.Name);
        return new HostGwNetwork(_context, config, lease, _tableFactory(_context, _options), _options, _changeFeed(_context, _options));
    }
}
