namespace Flannel.Cloud.Gce;

/// <summary>The default token source: the instance service account's token from the metadata server, cached until a minute before expiry.</summary>
internal sealed class GceMetadataTokenSource : IGceTokenSource
{
    private readonly GceMetadataClient _metadata;
    private readonly TimeProvider _time;
    private string? _token;
    private DateTimeOffset _expires;

    public GceMetadataTokenSource(GceMetadataClient metadata, TimeProvider time)
    {
        _metadata = metadata;
        _time = time;
    }

    public async ValueTask<string> GetAccessTokenAsync(CancellationToken cancellationToken)
    {
        // concurrent callers may both refresh; that is harmless (the metadata server hands out the same token)
        var token = _token;
        if (token is null || _time.GetUtcNow() >= _expires)
        {
            var fresh = await _metadata.GetTokenAsync(cancellationToken).ConfigureAwait(false);
            token = fresh.AccessToken!;
            _expires = _time.GetUtcNow() + TimeSpan.FromSeconds(Math.Max(0, fresh.ExpiresIn - 60));
            _token = token;
        }

        return token;
    }
}
