namespace Flannel.Internal;

internal sealed class AllocBackend(BackendContext context) : IBackend
{
    public async ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var iface = context.Interface;
        var attrs = new LeaseAttributes
        {
            PublicIP = config.EnableIPv4 ? iface.PublicIP ?? iface.Address : null,
            PublicIPv6 = config.EnableIPv6 ? iface.PublicIPv6 ?? iface.IPv6Address : null,
        };
        var request = new LeaseRequest(attrs) { PreviousSubnet = context.PreviousSubnet, PreviousIPv6Subnet = context.PreviousIPv6Subnet };
        var lease = await context.SubnetManager.AcquireLeaseAsync(request, cancellationToken).ConfigureAwait(false);
        return new SimpleNetwork(lease, iface.Mtu);
    }
}
