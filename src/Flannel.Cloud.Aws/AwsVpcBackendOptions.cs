using Amazon.Runtime;

namespace Flannel.Cloud.Aws;

/// <summary>
/// Host-side options of the aws-vpc backend: endpoints, credentials and retry policy. The per-network option
/// <c>RouteTableID</c> comes from the <c>Backend</c> object of net-conf.json.
/// </summary>
public sealed class AwsVpcBackendOptions
{
    /// <summary>The EC2 instance metadata service (IMDSv2), default <c>http://169.254.169.254</c>.</summary>
    public Uri MetadataEndpoint { get; set; } = new("http://169.254.169.254");

    /// <summary>
    /// An explicit EC2 endpoint (for example a VPC interface endpoint, or a test fake); null (the default) uses the
    /// regional endpoint of the region read from instance metadata.
    /// </summary>
    public Uri? Ec2ServiceUrl { get; set; }

    /// <summary>The SigV4 signing region to use with <see cref="Ec2ServiceUrl"/>; null means the metadata region.</summary>
    public string? AuthenticationRegion { get; set; }

    /// <summary>Explicit credentials; null (the default) uses the AWS SDK's default chain (environment, profile, container, instance role).</summary>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>How often the SDK itself retries a failed call (network errors, 5xx); default 3.</summary>
    public int SdkMaxErrorRetry { get; set; } = 3;

    /// <summary>How many times a throttled call (<c>RequestLimitExceeded</c>, <c>Throttling</c>) is attempted in total; default 6.</summary>
    public int ThrottleAttempts { get; set; } = 6;

    /// <summary>The first back-off after throttling; doubled on each retry up to 20 s (default 1 s).</summary>
    public TimeSpan ThrottleBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one metadata call may take (default 5 s, as flannel's client).</summary>
    public TimeSpan MetadataTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often the running network checks the node's route and puts it back when it was deleted or changed (a
    /// check that cannot program it is a degraded data path, see <see cref="RouteTableNetwork"/>);
    /// <see cref="Timeout.InfiniteTimeSpan"/> programs it only at start, as flannel did. Default: 5 minutes.
    /// </summary>
    public TimeSpan RouteCheckInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The first retry after a route check failed, doubled per further failure up to <see cref="RouteCheckInterval"/> (default 10 s).</summary>
    public TimeSpan RouteCheckRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    internal void Validate()
    {
        if (RouteCheckInterval <= TimeSpan.Zero && RouteCheckInterval != Timeout.InfiniteTimeSpan)
        {
            throw new FlannelConfigurationException(nameof(RouteCheckInterval), RouteCheckInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture), "must be positive, or Timeout.InfiniteTimeSpan to program the route only at start");
        }

        if (RouteCheckRetryDelay <= TimeSpan.Zero || RouteCheckRetryDelay > TimeSpan.FromDays(1))
        {
            throw new FlannelConfigurationException(nameof(RouteCheckRetryDelay), RouteCheckRetryDelay.ToString("c", System.Globalization.CultureInfo.InvariantCulture), "must be positive and at most a day");
        }

        ArgumentNullException.ThrowIfNull(MetadataEndpoint);
        if (ThrottleAttempts < 1)
        {
            throw new FlannelConfigurationException(nameof(ThrottleAttempts), ThrottleAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be at least 1");
        }

        if (SdkMaxErrorRetry < 0)
        {
            throw new FlannelConfigurationException(nameof(SdkMaxErrorRetry), SdkMaxErrorRetry.ToString(System.Globalization.CultureInfo.InvariantCulture), "must not be negative");
        }
    }
}
