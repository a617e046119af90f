using Flannel;
using Flannel.Vxlan;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the vxlan backend with a Flannel.Net host.</summary>
public static class VxlanServiceCollectionExtensions
{
    /// <summary>Registers the vxlan backend (net-conf.json <c>"Type": "vxlan"</c>).</summary>
    /// <param name="builder">The builder from <c>services.AddFlannel()</c>.</param>
    /// <param name="configure">Adjusts the host-side options (state directory, reconcile interval, kernel watch).</param>
    /// <returns>The builder.</returns>
    /// <example>
    /// <code>
    /// services.AddFlannel().AddVxlanBackend(o => o.StateDirectory = "/var/lib/flannel");
    /// </code>
    /// </example>
    public static IFlannelBuilder AddVxlanBackend(this IFlannelBuilder builder, Action<VxlanBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new VxlanBackendOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(options);
        return builder.AddBackend<VxlanBackendFactory>();
    }
}
