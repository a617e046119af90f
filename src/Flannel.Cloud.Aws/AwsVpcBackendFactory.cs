namespace Flannel.Cloud.Aws;

/// <summary>Creates aws-vpc backends (net-conf.json <c>"Backend": {"Type": "aws-vpc"}</c>).</summary>
public sealed class AwsVpcBackendFactory : IBackendFactory
{
    private readonly AwsVpcBackendOptions _options;

    /// <summary>Creates the factory with default options (the real metadata service, regional endpoint, SDK credential chain).</summary>
    public AwsVpcBackendFactory()
        : this(new AwsVpcBackendOptions())
    {
    }

    /// <summary>Creates the factory.</summary>
    /// <param name="options">Endpoints, credentials and retry policy.</param>
    public AwsVpcBackendFactory(AwsVpcBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <inheritdoc />
    public BackendType Type => BackendType.AwsVpc;

    /// <inheritdoc />
    public IBackend Create(BackendContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new AwsVpcBackend(context, _options);
    }
}
