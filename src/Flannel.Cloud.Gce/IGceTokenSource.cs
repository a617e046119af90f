namespace Flannel.Cloud.Gce;

/// <summary>
/// Supplies OAuth2 access tokens for the Compute Engine API. The default reads the instance service account's token
/// from the metadata server. A host that must use a service-account key (or workload identity federation) plugs its own
/// implementation in through <see cref="GceBackendOptions.TokenSource"/>, for example one built on Google.Apis.Auth;
/// this package does not reference Google.Apis.Auth because it breaks Native AOT publishing.
/// </summary>
public interface IGceTokenSource
{
    /// <summary>Returns a valid bearer token (cached and refreshed by the implementation).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The access token, without the <c>Bearer</c> prefix.</returns>
    ValueTask<string> GetAccessTokenAsync(CancellationToken cancellationToken);
}
