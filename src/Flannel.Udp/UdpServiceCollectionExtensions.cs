using Flannel.Udp;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the udp backend.</summary>
public static class UdpServiceCollectionExtensions
{
    /// <summary>Adds the udp backend (<c>"Type": "udp"</c>) to the host's backend factories.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Optional host-side tuning.</param>
    /// <returns>The services.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddUdpBackend();
    /// </code>
    /// </example>
    public static IServiceCollection AddUdpBackend(this IServiceCollection services, Action<UdpBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new UdpBackendOptions();
        configure?.Invoke(options);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Flannel.IBackendFactory>(new UdpBackendFactory(options)));
        return services;
    }
}
