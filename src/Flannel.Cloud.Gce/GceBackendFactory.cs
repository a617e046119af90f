namespace Flannel.Cloud.Gce;

/// <summary>Creates gce backends (net-conf.json <c>"Backend": {"Type": "gce"}</c>).</summary>
public sealed class GceBackendFactory : IBackendFactory
{
    private readonly GceBackendOptions _options;

    /// <summary>Creates the factory with default options (the real metadata server and Compute endpoint, the instance service account).</summary>
    public GceBackendFactory()
        : this(new GceBackendOptions())
    {
    }

    /// <summary>Creates the factory.</summary>
    /// <param name="options">Endpoints, token source and polling.</param>
    public GceBackendFactory(GceBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <inheritdoc />
    public BackendType Type => BackendType.Gce;

    /// <inheritdoc />
    public IBackend Create(BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new GceBackend(context, _options);
    }
}
