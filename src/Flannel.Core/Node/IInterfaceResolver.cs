using System.Net;

namespace Flannel.Node;

/// <summary>Finds the underlay interface for a node (flanneld's interface and public-IP selection).</summary>
public interface IInterfaceResolver
{
    /// <summary>Resolves the interface, its addresses and the public endpoints.</summary>
    /// <param name="selection">The selection rules.</param>
    /// <param name="publicIP">An explicit public IPv4 (<c>--public-ip</c>), or null.</param>
    /// <param name="publicIPv6">An explicit public IPv6 (<c>--public-ipv6</c>), or null.</param>
    /// <param name="config">The network configuration (which families are needed).</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The interface.</returns>
    /// <exception cref="FlannelConfigurationException">No interface matches, or the matched one lacks an address of a needed family.</exception>
    ValueTask<ExternalInterface> ResolveAsync(InterfaceSelection selection, IPAddress? publicIP, IPAddress? publicIPv6, NetworkConfig config, CancellationToken cancellationToken);
}
