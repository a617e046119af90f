using Flannel;
using Flannel.Cloud.Aws;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the aws-vpc backend.</summary>
public static class AwsVpcServiceCollectionExtensions
{
    /// <summary>Adds the aws-vpc backend factory (<see cref="IBackendFactory"/> of type <c>aws-vpc</c>); calling it twice adds it once.</summary>
    /// <param name="builder">The builder from <c>services.AddFlannel()</c>.</param>
    /// <param name="configure">Optional configuration of the host-side options (endpoints, credentials, retries).</param>
    /// <returns>The builder, for chaining.</returns>
    public static IFlannelBuilder AddAwsVpcBackend(this IFlannelBuilder builder, Action<AwsVpcBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<AwsVpcBackendOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IBackendFactory, AwsVpcBackendFactory>(
            sp => new AwsVpcBackendFactory(sp.GetRequiredService<IOptions<AwsVpcBackendOptions>>().Value)));
        return builder;
    }
}
