using System.Diagnostics.CodeAnalysis;
using Flannel;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Flannel.Net services: <c>services.AddFlannel().AddVxlanBackend().AddLeaseManager()</c>.</summary>
public static class FlannelServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Flannel.Net core services: the <see cref="BackendRegistry"/> (built from every registered
    /// <see cref="IBackendFactory"/>) and <see cref="TimeProvider.System"/> unless a clock is registered. Safe to call
    /// more than once.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder to add backends and stores with.</returns>
    public static IFlannelBuilder AddFlannel(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new BackendRegistry(sp.GetServices<IBackendFactory>()));
        return new FlannelBuilder(services);
    }

    /// <summary>Registers a backend factory (once per type; registering the same factory type again is a no-op).</summary>
    /// <typeparam name="TFactory">The factory.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IFlannelBuilder AddBackend<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TFactory>(this IFlannelBuilder builder)
        where TFactory : class, IBackendFactory
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IBackendFactory, TFactory>());
        return builder;
    }

    /// <summary>Registers the <c>alloc</c> backend (<see cref="AllocBackendFactory"/>).</summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IFlannelBuilder AddAllocBackend(this IFlannelBuilder builder) => builder.AddBackend<AllocBackendFactory>();

    /// <summary>Uses an <see cref="InMemoryLeaseRegistry"/> as the lease store (tests, single-process clusters).</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="config">The network configuration the store holds, or null.</param>
    /// <returns>The builder.</returns>
    public static IFlannelBuilder AddInMemoryLeaseStore(this IFlannelBuilder builder, NetworkConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(sp => new InMemoryLeaseRegistry(config, sp.GetService<TimeProvider>(), sp.GetService<ILoggerFactory>()));
        builder.Services.TryAddSingleton<ILeaseRegistry>(sp => sp.GetRequiredService<InMemoryLeaseRegistry>());
        return builder;
    }

    /// <summary>
    /// Registers a <see cref="LeaseManager"/> as the <see cref="ISubnetManager"/>, over the registered
    /// <see cref="ILeaseRegistry"/> (a store package's <c>AddXxxLeaseStore()</c>). The DI clock, logger factory and
    /// meter factory are used unless the options name their own.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="options">The options, or null for the defaults.</param>
    /// <returns>The builder.</returns>
    public static IFlannelBuilder AddLeaseManager(this IFlannelBuilder builder, LeaseManagerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<ISubnetManager>(sp =>
        {
            var o = options ?? new LeaseManagerOptions();
            o = o with
            {
                TimeProvider = ReferenceEquals(o.TimeProvider, TimeProvider.System) ? sp.GetService<TimeProvider>() ?? o.TimeProvider : o.TimeProvider,
                LoggerFactory = o.LoggerFactory ?? sp.GetService<ILoggerFactory>(),
                MeterFactory = o.MeterFactory ?? sp.GetService<System.Diagnostics.Metrics.IMeterFactory>(),
            };
            return new LeaseManager(sp.GetRequiredService<ILeaseRegistry>(), o);
        });
        return builder;
    }

    private sealed class FlannelBuilder(IServiceCollection services) : IFlannelBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
