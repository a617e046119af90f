using Flannel;
using Flannel.Cloud.Gce;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the gce backend.</summary>
public static class GceServiceCollectionExtensions
{
    /// <summary>Adds the gce backend factory (<see cref="IBackendFactory"/> of type <c>gce</c>); calling it twice adds it once.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Optional configuration of the host-side options (endpoints, token source, polling).</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddGceBackend(this IServiceCollection services, Action<GceBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<GceBackendOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBackendFactory, GceBackendFactory>(
            sp => new GceBackendFactory(sp.GetRequiredService<IOptions<GceBackendOptions>>().Value)));
        return services;
    }
}
