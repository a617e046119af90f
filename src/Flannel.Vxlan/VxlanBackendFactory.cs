using Microsoft.Extensions.Logging;

namespace Flannel.Vxlan;

/// <summary>
/// Creates vxlan backends (<c>"Type": "vxlan"</c>, flannel's recommended backend): pod traffic between nodes is
/// encapsulated by a kernel VXLAN device, <c>flannel.&lt;VNI&gt;</c> (and <c>flannel-v6.&lt;VNI&gt;</c>).
/// </summary>
/// <example>
/// <code>
/// var factory = new VxlanBackendFactory(new VxlanBackendOptions { StateDirectory = "/var/lib/flannel" });
/// var backend = factory.Create(new BackendContext { SubnetManager = manager, Interface = eth0 });
/// await using var network = await backend.RegisterNetworkAsync(config, ct);
/// Console.WriteLine($"pods use MTU {network.Mtu}");
/// await network.RunAsync(ct);
/// </code>
/// </example>
public sealed class VxlanBackendFactory : IBackendFactory
{
    private readonly VxlanBackendOptions _options;

    /// <summary>Creates the factory.</summary>
    /// <param name="options">Host settings; null for the defaults.</param>
    public VxlanBackendFactory(VxlanBackendOptions? options = null) => _options = options ?? new VxlanBackendOptions();

    /// <inheritdoc />
    public BackendType Type => BackendType.Vxlan;

    /// <inheritdoc />
    public IBackend Create(BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("the vxlan backend needs Linux (kernel VXLAN devices over rtnetlink)");
        }

        return new VxlanBackend(context, _options);
    }
}
