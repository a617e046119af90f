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

    internal void Validate()
    {
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
