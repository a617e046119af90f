namespace Flannel.HostGw;

/// <summary>
/// Creates host-gw backends (<c>"Type": "host-gw"</c>): every peer's pod subnet is routed via the peer's public IP
/// on the external interface, so every node must share one L2 segment, and no packet is encapsulated.
/// </summary>
/// <example>
/// <code>
/// var factory = new HostGwBackendFactory();
/// var backend = factory.Create(new BackendContext { SubnetManager = manager, Interface = eth0 });
/// await using var network = await backend.RegisterNetworkAsync(config, ct);
/// await network.RunAsync(ct);
/// </code>
/// </example>
public sealed partial class HostGwBackendFactory : IBackendFactory
{
    private readonly HostGwOptions _options;
    private readonly Func<BackendContext, HostGwOptions, IRouteTable> _tableFactory;
    private readonly Func<BackendContext, HostGwOptions, Func<CancellationToken, IAsyncEnumerable<string>>?> _changeFeed;

    /// <summary>Creates a factory that programs the kernel's routing table (in <see cref="BackendContext.NetworkNamespacePath"/>).</summary>
    /// <param name="options">Host settings; null for the defaults.</param>
    public HostGwBackendFactory(HostGwOptions? options = null)
        : this(options, KernelRoutes.CreateTable, KernelRoutes.CreateChangeFeed)
    {
    }

    /// <summary>Creates a factory that programs the given route table (for tests and custom tables).</summary>
    internal HostGwBackendFactory(
        HostGwOptions? options,
        Func<BackendContext, HostGwOptions, IRouteTable> tableFactory,
        Func<BackendContext, HostGwOptions, Func<CancellationToken, IAsyncEnumerable<string>>?>? changeFeed = null)
    {
        _options = options ?? new HostGwOptions();
        _tableFactory = tableFactory;
        _changeFeed = changeFeed ?? ((_, _) => null);
    }

    /// <inheritdoc />
    public BackendType Type => BackendType.HostGw;

    /// <inheritdoc />
    /// <exception cref="FlannelConfigurationException">The public IP differs from the interface IP (NAT), which host-gw cannot route.</exception>
    public IBackend Create(BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var iface = context.Interface;
        if (iface.PublicIP is { } pub && iface.Address is { } addr && !pub.Equals(addr))
        {
            throw new FlannelConfigurationException(
                "--public-ip",
                pub.ToString(),
                $"your PublicIP differs from interface IP ({addr} on {iface.Name}), meaning that probably you're on a NAT, which is not supported by host-gw backend");
        }

        if (iface.PublicIPv6 is { } pub6 && iface.IPv6Address is { } addr6 && !pub6.Equals(addr6))
        {
            throw new FlannelConfigurationException(
                "--public-ipv6",
                pub6.ToString(),
                $"your PublicIPv6 differs from interface IPv6 ({addr6} on {iface.Name}), meaning that probably you're on a NAT, which is not supported by host-gw backend");
        }

        return new HostGwBackend(context, _options, _tableFactory, _changeFeed);
    }
}
