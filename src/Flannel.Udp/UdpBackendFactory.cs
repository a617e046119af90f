namespace Flannel.Udp;

/// <summary>
/// Creates udp backends (<c>"Type": "udp"</c>): a TUN device <c>flannel0</c> and a userspace forwarder that carries
/// each inner IPv4 packet in one UDP datagram to the peer's public IP (port 8285 by default), wire-compatible with
/// flanneld's udp backend.
/// </summary>
/// <example>
/// <code>
/// var backend = new UdpBackendFactory().Create(context);
/// await using var network = await backend.RegisterNetworkAsync(config, ct);
/// await network.RunAsync(ct);
/// </code>
/// </example>
public sealed class UdpBackendFactory : IBackendFactory
{
    private readonly UdpBackendOptions _options;

    /// <summary>Creates the factory.</summary>
    /// <param name="options">Host-side tuning, or null for the defaults.</param>
    public UdpBackendFactory(UdpBackendOptions? options = null) => _options = options ?? new UdpBackendOptions();

    /// <inheritdoc />
    public BackendType Type => BackendType.Udp;

    /// <inheritdoc />
    public IBackend Create(BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the udp backend needs Linux (/dev/net/tun)");
        }

        return new UdpBackend(context, _options);
    }
}
