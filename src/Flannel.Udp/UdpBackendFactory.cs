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
public sealed class UdpBackendFactory : IBackendFactory, IBackendResources
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

        if (_options.HealthCheckInterval <= TimeSpan.Zero)
        {
            throw new FlannelConfigurationException(nameof(UdpBackendOptions.HealthCheckInterval), _options.HealthCheckInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture), "must be positive");
        }

        return new UdpBackend(context, _options);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The UDP socket (<c>udp:ADDRESS:PORT</c>, the interface address and <c>Port</c>) and, when the device name is
    /// fixed rather than a <c>%d</c> template, the TUN device (<c>link:NAME</c>).
    /// </remarks>
    public IReadOnlyList<string> GetResources(NetworkConfig config, BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(context);
        var port = UdpNetConf.Parse(config.Backend).Port;
        var keys = new List<string> { $"udp:{context.Interface.Address?.ToString() ?? "0.0.0.0"}:{port}" };
        if (!_options.DeviceName.Contains("%d", StringComparison.Ordinal))
        {
            keys.Add("link:" + _options.DeviceName);
        }

        return keys;
    }
}
