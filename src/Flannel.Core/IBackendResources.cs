namespace Flannel;

/// <summary>
/// Optional capability of an <see cref="IBackendFactory"/>: names the host resources a network would use (device
/// names, VNI, UDP port), scoped by network namespace, so that a host running several networks can reject a
/// collision before anything is created. Keys are opaque strings compared for equality.
/// </summary>
public interface IBackendResources
{
    /// <summary>Lists the resources a network with this configuration would hold.</summary>
    /// <param name="config">The validated network configuration (with the backend options).</param>
    /// <param name="context">The node's context (namespace, interface).</param>
    /// <returns>Resource keys, for example <c>netns:/run/netns/a link:flannel.1</c>.</returns>
    /// <exception cref="FlannelConfigurationException">The backend options are invalid.</exception>
    IReadOnlyList<string> GetResources(NetworkConfig config, BackendContext context);
}
