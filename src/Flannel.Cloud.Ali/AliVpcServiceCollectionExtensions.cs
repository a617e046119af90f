using Flannel;
using Flannel.Cloud.Ali;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the ali-vpc backend.</summary>
public static class AliVpcServiceCollectionExtensions
{
    /// <summary>Adds the ali-vpc backend factory (<see cref="IBackendFactory"/> of type <c>ali-vpc</c>); calling it twice adds it once.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Optional configuration of the host-side options (endpoints, timing, credential fallback).</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddAliVpcBackend(this IServiceCollection services, Action<AliVpcBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<AliVpcBackendOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBackendFactory, AliVpcBackendFactory>(
            sp => new AliVpcBackendFactory(sp.GetRequiredService<IOptions<AliVpcBackendOptions>>().Value)));
        return services;
    }
}
