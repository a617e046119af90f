using System.Diagnostics.Metrics;
using Flannel;
using Flannel.Node;
using Flannel.TrafficRules;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a <see cref="FlannelNode"/> and what it composes with the Generic Host.</summary>
public static class FlannelNodeServiceCollectionExtensions
{
    /// <summary>
    /// Registers one <see cref="FlannelNode"/> built from the container (the <see cref="ISubnetManager"/>, every
    /// registered <see cref="IBackendFactory"/>, and the optional <see cref="ILeaseStateStore"/>,
    /// <see cref="ITrafficManager"/> and <see cref="IInterfaceResolver"/>), plus a <see cref="FlannelNodeHostedService"/>
    /// so that the host reports started only after the node is ready.
    /// </summary>
    /// <param name="builder">The Flannel builder.</param>
    /// <param name="options">The node options.</param>
    /// <returns>The builder.</returns>
    /// <example><code>services.AddFlannel().AddVxlanBackend().AddInMemoryLeaseStore(config).AddLeaseManager().AddNode(new FlannelNodeOptions { NetworkConfig = config });</code></example>
    public static IFlannelBuilder AddNode(this IFlannelBuilder builder, FlannelNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder.Services.TryAddSingleton<NodeResourceClaims>();
        builder.Services.TryAddSingleton(sp =>
        {
            var resolver = sp.GetService<IInterfaceResolver>();
            if (resolver is null && options.Interface.Explicit is null && OperatingSystem.IsLinux())
            {
                resolver = new NetlinkInterfaceResolver(options.NetworkNamespacePath);
            }

            return new FlannelNode(options, new FlannelNodeServices
            {
                SubnetManager = sp.GetRequiredService<ISubnetManager>(),
                Backends = [.. sp.GetServices<IBackendFactory>()],
                InterfaceResolver = resolver,
                StateStore = sp.GetService<ILeaseStateStore>(),
                TrafficManager = sp.GetService<ITrafficManager>(),
                Claims = sp.GetService<NodeResourceClaims>(),
                LoggerFactory = sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
                TimeProvider = sp.GetService<TimeProvider>() ?? TimeProvider.System,
                MeterFactory = sp.GetService<IMeterFactory>(),
            });
        });
        builder.Services.AddHostedService(sp => new FlannelNodeHostedService(sp.GetRequiredService<FlannelNode>(), sp.GetService<IHostApplicationLifetime>()));
        return builder;
    }

    /// <summary>Writes and reads flannel's subnet.env at <paramref name="path"/> (the node's previous-lease state).</summary>
    /// <param name="builder">The Flannel builder.</param>
    /// <param name="path">The file, for example <c>/run/flannel/subnet.env</c>.</param>
    /// <returns>The builder.</returns>
    public static IFlannelBuilder AddSubnetFile(this IFlannelBuilder builder, string path)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<ILeaseStateStore>(new SubnetEnvStateStore(path));
        return builder;
    }

    /// <summary>Installs masquerade and forward rules with the given engine and switches.</summary>
    /// <param name="builder">The Flannel builder.</param>
    /// <param name="options">The rule options (engine, switches, chain and table names, namespace).</param>
    /// <returns>The builder.</returns>
    public static IFlannelBuilder AddTrafficRules(this IFlannelBuilder builder, TrafficRuleOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder.Services.TryAddSingleton(sp => TrafficManager.Create(
            options.MeterFactory is null ? options with { MeterFactory = sp.GetService<System.Diagnostics.Metrics.IMeterFactory>() } : options,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>()));
        return builder;
    }
}
