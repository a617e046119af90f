namespace Flannel.Cloud.Ali;

/// <summary>An AccessKey pair. <see cref="ToString"/> never shows the secret.</summary>
internal sealed class AliCredentials
{
    public AliCredentials(string accessKeyId, string accessKeySecret, string source)
    {
        AccessKeyId = accessKeyId;
        AccessKeySecret = accessKeySecret;
        Source = source;
    }

    public string AccessKeyId { get; }

    public string AccessKeySecret { get; }

    /// <summary>Where the pair came from (Backend options or environment), for the log.</summary>
    public string Source { get; }

    /// <summary>The AccessKeyId with its middle hidden, for logs.</summary>
    public string IdHint => AccessKeyId.Length <= 6 ? "***" : AccessKeyId[..4] + "***" + AccessKeyId[^2..];

    public override string ToString() => $"AccessKey {IdHint} from {Source}";
}
