namespace Flannel.Cloud.Ali;

/// <summary>Creates ali-vpc backends (net-conf.json <c>"Backend": {"Type": "ali-vpc"}</c>).</summary>
public sealed class AliVpcBackendFactory : IBackendFactory
{
    private readonly AliVpcBackendOptions _options;

    /// <summary>Creates the factory with default options (the real metadata service and regional VPC endpoint).</summary>
    public AliVpcBackendFactory()
        : this(new AliVpcBackendOptions())
    {
    }

    /// <summary>Creates the factory.</summary>
    /// <param name="options">Endpoints, timing and the credential fallback.</param>
    public AliVpcBackendFactory(AliVpcBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <inheritdoc />
    public BackendType Type => BackendType.AliVpc;

    /// <inheritdoc />
    public IBackend Create(BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new AliVpcBackend(context, _options);
    }
}
