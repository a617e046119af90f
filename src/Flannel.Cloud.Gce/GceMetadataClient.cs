using System.Net;
using System.Text.Json;

namespace Flannel.Cloud.Gce;

/// <summary>Reads the GCE metadata server (<c>/computeMetadata/v1/</c>, header <c>Metadata-Flavor: Google</c> both ways).</summary>
internal sealed class GceMetadataClient
{
    private readonly HttpClient _http;
    private readonly Uri _base;

    public GceMetadataClient(HttpClient http, Uri baseUri)
    {
        _http = http;
        _base = baseUri;
    }

    public async ValueTask<string> GetAsync(string path, CancellationToken cancellationToken)
    {
        var body = await GetRawAsync(path, cancellationToken).ConfigureAwait(false);
        var value = body.Trim();
        return value.Length > 0 && !value.Contains('\n', StringComparison.Ordinal)
            ? value
            : throw new FlannelException($"GCE metadata '{path}' at {_base} returned an unusable value (empty or several lines)");
    }

    /// <summary>The last element of a metadata path value such as <c>projects/123/zones/us-central1-a</c>.</summary>
    public async ValueTask<string> GetLastElementAsync(string path, CancellationToken cancellationToken)
    {
        var value = await GetAsync(path, cancellationToken).ConfigureAwait(false);
        var last = value[(value.LastIndexOf('/') + 1)..];
        return last.Length > 0 ? last : throw new FlannelException($"GCE metadata '{path}' returned \"{value}\", which has no last path element");
    }

    public async ValueTask<GceToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        const string path = "instance/service-accounts/default/token";
        var body = await GetRawAsync(path, cancellationToken).ConfigureAwait(false);
        GceToken? token;
        try
        {
            token = JsonSerializer.Deserialize(body, GceJsonContext.Default.GceToken);
        }
        catch (JsonException ex)
        {
            // the body may hold a token: never put it in the message
            throw new FlannelException($"GCE metadata '{path}' returned malformed JSON (line {ex.LineNumber}, byte {ex.BytePositionInLine})");
        }

        return token is { AccessToken.Length: > 0 }
            ? token
            : throw new FlannelException($"GCE metadata '{path}' returned no access_token; does the instance have a service account?");
    }

    private async ValueTask<string> GetRawAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, "/computeMetadata/v1/" + path));
        request.Headers.TryAddWithoutValidation("Metadata-Flavor", "Google");
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new FlannelException($"GCE metadata server at {_base} is unreachable: {ex.Message}. The gce backend must run on a Compute Engine VM (or set GceBackendOptions.MetadataEndpoint).", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new FlannelException($"GCE metadata server at {_base} did not answer '{path}' in time", ex);
        }

        using (response)
        {
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new FlannelException($"GCE metadata '{path}' at {_base}: HTTP {(int)response.StatusCode}");
            }

            if (!response.Headers.TryGetValues("Metadata-Flavor", out var flavor) || !flavor.Contains("Google"))
            {
                throw new FlannelException($"the server at {_base} answered '{path}' without the 'Metadata-Flavor: Google' header; it is not a GCE metadata server");
            }

            return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
