using Flannel;
using Flannel.HostGw;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the host-gw backend with a Flannel.Net host.</summary>
public static class HostGwServiceCollectionExtensions
{
    /// <summary>Registers the host-gw backend (net-conf.json <c>"Type": "host-gw"</c>).</summary>
    /// <param name="builder">The builder from <c>services.AddFlannel()</c>.</param>
    /// <param name="configure">Adjusts the host-side options (route protocol mark, table, reconcile interval).</param>
    /// <returns>The builder.</returns>
    /// <example>
    /// <code>
    /// services.AddFlannel().AddHostGwBackend();
    /// </code>
    /// </example>
    public static IFlannelBuilder AddHostGwBackend(this IFlannelBuilder builder, Action<HostGwOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new HostGwOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(options);
        return builder.AddBackend<HostGwBackendFactory>();
    }
}
