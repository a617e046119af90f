namespace Flannel;

/// <summary>A backend instance bound to one node and one network (flannel's <c>Backend</c>).</summary>
public interface IBackend
{
    /// <summary>
    /// Prepares the node for the network (devices, addresses), acquires the node's lease with the backend's
    /// attributes, and returns the network ready to run.
    /// </summary>
    /// <param name="config">The validated network configuration.</param>
    /// <param name="cancellationToken">Cancels registration.</param>
    /// <returns>The registered network.</returns>
    ValueTask<INetwork> RegisterNetworkAsync(NetworkConfig config, CancellationToken cancellationToken);
}
