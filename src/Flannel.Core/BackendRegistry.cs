using System.Diagnostics.CodeAnalysis;

namespace Flannel;

/// <summary>
/// The backend factories a host registered (for example with <c>AddVxlanBackend()</c>), by type. Built once per host
/// from DI; no global registry.
/// </summary>
public sealed class BackendRegistry
{
    private readonly Dictionary<BackendType, IBackendFactory> _factories = [];

    /// <summary>Creates the registry.</summary>
    /// <param name="factories">The factories; each type at most once.</param>
    /// <exception cref="ArgumentException">Two factories serve the same type, or one has an empty type.</exception>
    public BackendRegistry(IEnumerable<IBackendFactory> factories)
    {
        ArgumentNullException.ThrowIfNull(factories);
        foreach (var f in factories)
        {
            if (f.Type.IsEmpty)
            {
                throw new ArgumentException($"backend factory {f.GetType().FullName} has an empty Type", nameof(factories));
            }

            if (!_factories.TryAdd(f.Type, f))
            {
                throw new ArgumentException(
                    $"two backend factories are registered for type \"{f.Type}\": {_factories[f.Type].GetType().FullName} and {f.GetType().FullName}; register each backend once",
                    nameof(factories));
            }
        }

        Types = [.. _factories.Keys.OrderBy(t => t.Value, StringComparer.Ordinal)];
    }

    /// <summary>The registered types, sorted.</summary>
    public IReadOnlyList<BackendType> Types { get; }

    /// <summary>Finds the factory for a type.</summary>
    /// <param name="type">The type.</param>
    /// <param name="factory">The factory when found.</param>
    /// <returns>True when the type is registered.</returns>
    public bool TryGetFactory(BackendType type, [NotNullWhen(true)] out IBackendFactory? factory) => _factories.TryGetValue(type, out factory);

    /// <summary>Gets the factory for a type.</summary>
    /// <param name="type">The type.</param>
    /// <returns>The factory.</returns>
    /// <exception cref="FlannelConfigurationException">The type is not registered; the message lists the registered types.</exception>
    public IBackendFactory GetFactory(BackendType type)
    {
        if (_factories.TryGetValue(type, out var factory))
        {
            return factory;
        }

        var known = Types.Count == 0 ? "none" : string.Join(", ", Types);
        throw new FlannelConfigurationException(
            "Backend.Type",
            type.Value,
            $"unknown backend type; registered types: {known} (register backends with services.AddFlannel().AddXxxBackend())");
    }

    /// <summary>Creates the backend a configuration names.</summary>
    /// <param name="config">The network configuration.</param>
    /// <param name="context">The node's context.</param>
    /// <returns>The backend.</returns>
    /// <exception cref="FlannelConfigurationException">The configuration's backend type is not registered.</exception>
    public IBackend CreateBackend(NetworkConfig config, BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(context);
        return GetFactory(config.BackendType).Create(context);
    }
}
