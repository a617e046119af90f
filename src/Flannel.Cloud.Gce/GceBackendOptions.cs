namespace Flannel.Cloud.Gce;

/// <summary>Host-side options of the gce backend: endpoints, the token source and operation polling.</summary>
public sealed class GceBackendOptions
{
    /// <summary>The metadata server (default <c>http://169.254.169.254</c>, alias metadata.google.internal).</summary>
    public Uri MetadataEndpoint { get; set; } = new("http://169.254.169.254");

    /// <summary>The Compute Engine API base (default <c>https://compute.googleapis.com/compute/v1/</c>; keep the trailing slash).</summary>
    public Uri ComputeEndpoint { get; set; } = new("https://compute.googleapis.com/compute/v1/");

    /// <summary>Where access tokens come from; null (the default) uses the instance service account via the metadata server.</summary>
    public IGceTokenSource? TokenSource { get; set; }

    /// <summary>How often a global operation is polled (default 1 s, as flannel).</summary>
    public TimeSpan OperationPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many polls an operation gets before the wait fails (default 100, as flannel).</summary>
    public int OperationMaxPolls { get; set; } = 100;

    /// <summary>How many times a rate-limited or 5xx call is attempted in total (default 5).</summary>
    public int RetryAttempts { get; set; } = 5;

    /// <summary>The first back-off after a rate-limited or 5xx answer; doubled per retry (default 1 s).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one HTTP call may take (default 30 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

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
        ArgumentNullException.ThrowIfNull(ComputeEndpoint);
        if (OperationMaxPolls < 1 || RetryAttempts < 1)
        {
            throw new FlannelConfigurationException(nameof(OperationMaxPolls), null, "OperationMaxPolls and RetryAttempts must be at least 1");
        }

        if (!ComputeEndpoint.AbsoluteUri.EndsWith('/'))
        {
            throw new FlannelConfigurationException(nameof(ComputeEndpoint), ComputeEndpoint.ToString(), "must end with '/'");
        }
    }
}
