using Flannel;
using Flannel.Cloud.Aws;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the aws-vpc backend.</summary>
public static class AwsVpcServiceCollectionExtensions
{
    /// <summary>Adds the aws-vpc backend factory (<see cref="IBackendFactory"/> of type <c>aws-vpc</c>); calling it twice adds it once.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Optional configuration of the host-side options (endpoints, credentials, retries).</param>
    /// <returns>The services, for chaining.</returns>
    public static IServiceCollection AddAwsVpcBackend(this IServiceCollection services, Action<AwsVpcBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<AwsVpcBackendOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBackendFactory, AwsVpcBackendFactory>(
            sp => new AwsVpcBackendFactory(sp.GetRequiredService<IOptions<AwsVpcBackendOptions>>().Value)));
        return services;
    }
}
