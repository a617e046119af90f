namespace Flannel.Cloud.Ali;

/// <summary>
/// Host-side options of the ali-vpc backend: endpoints, timing and where credentials may come from. The per-network
/// options (<c>AccessKeyID</c>, <c>AccessKeySecret</c>) come from the <c>Backend</c> object of net-conf.json.
/// </summary>
public sealed class AliVpcBackendOptions
{
    /// <summary>The ECS instance metadata service (default <c>http://100.100.100.200</c>, flannel's <c>METADATA_ENDPOINT</c>).</summary>
    public Uri MetadataEndpoint { get; set; } = new("http://100.100.100.200");

    /// <summary>
    /// The VPC API endpoint; null (the default) means the regional public endpoint <c>https://vpc.&lt;region-id&gt;.aliyuncs.com</c>
    /// built from the metadata region. Inside a VPC without internet use <c>https://vpc-vpc.&lt;region-id&gt;.aliyuncs.com</c>.
    /// </summary>
    public Uri? VpcEndpoint { get; set; }

    /// <summary>
    /// Reads an environment variable; used only for flannel's credential fallback (<c>ACCESS_KEY_ID</c>,
    /// <c>ACCESS_KEY_SECRET</c>) when the Backend options carry no keys. Defaults to the process environment;
    /// set it to a function returning null to disable the fallback.
    /// </summary>
    public Func<string, string?> EnvironmentVariableReader { get; set; } = Environment.GetEnvironmentVariable;

    /// <summary>How long one HTTP call (metadata or API) may take (default 10 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a metadata read is attempted before it fails (default 5, as flannel's client did).</summary>
    public int MetadataAttempts { get; set; } = 5;

    /// <summary>The pause between metadata attempts (default 200 ms).</summary>
    public TimeSpan MetadataRetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The pause before retrying a call rejected with a transient code such as <c>TaskConflict</c> (default 3 s).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How often route entries are re-read while waiting for them to become Available (default 5 s, as flannel).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The bound on one route operation: retries plus the wait for Available (default 60 s, as flannel).</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(60);

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
        ArgumentNullException.ThrowIfNull(EnvironmentVariableReader);
        if (MetadataAttempts < 1)
        {
            throw new FlannelConfigurationException(nameof(MetadataAttempts), MetadataAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture), "must be at least 1");
        }

        if (RequestTimeout <= TimeSpan.Zero || OperationTimeout <= TimeSpan.Zero)
        {
            throw new FlannelConfigurationException(nameof(OperationTimeout), null, "RequestTimeout and OperationTimeout must be positive");
        }
    }
}
