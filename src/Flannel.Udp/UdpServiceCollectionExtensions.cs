using Flannel.Udp;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the udp backend.</summary>
public static class UdpServiceCollectionExtensions
{
    /// <summary>Adds the udp backend (<c>"Type": "udp"</c>) to the host's backend factories.</summary>
    /// <param name="builder">The Flannel builder (from <c>services.AddFlannel()</c>).</param>
    /// <param name="configure">Optional host-side tuning.</param>
    /// <returns>The builder.</returns>
    /// <example>
    /// <code>
    /// builder.Services.AddUdpBackend();
    /// </code>
    /// </example>
    public static IFlannelBuilder AddUdpBackend(this IFlannelBuilder builder, Action<UdpBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new UdpBackendOptions();
        configure?.Invoke(options);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<Flannel.IBackendFactory>(new UdpBackendFactory(options)));
        return builder;
    }
}
