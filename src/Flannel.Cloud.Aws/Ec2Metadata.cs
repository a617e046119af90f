using System.Net;

namespace Flannel.Cloud.Aws;

/// <summary>A small IMDSv2 client: one session token (PUT), then token-carrying GETs under <c>/latest/meta-data/</c>.</summary>
internal sealed class Ec2Metadata
{
    internal const string TokenTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
    internal const string TokenHeader = "X-aws-ec2-metadata-token";

    private readonly HttpClient _http;
    private readonly Uri _base;
    private string? _token;

    public Ec2Metadata(HttpClient http, Uri baseUri)
    {
        _http = http;
        _base = baseUri;
    }

    public async ValueTask<string> GetAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            _token ??= await GetTokenAsync(cancellationToken).ConfigureAwait(false);
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, "/latest/meta-data/" + path));
            request.Headers.TryAddWithoutValidation(TokenHeader, _token);
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new FlannelException($"EC2 instance metadata '{path}' at {_base}: HTTP {(int)response.StatusCode}");
            }

            var value = (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Trim();
            return value.Length > 0 && !value.Contains('\n', StringComparison.Ordinal) && !value.Contains('<', StringComparison.Ordinal)
                ? value
                : throw new FlannelException($"EC2 instance metadata '{path}' at {_base} returned an unusable value (empty, several lines or markup)");
        }
        catch (HttpRequestException ex)
        {
            throw new FlannelException($"EC2 instance metadata (IMDSv2) at {_base} is unreachable: {ex.Message}. The aws-vpc backend must run on an EC2 instance with the metadata service enabled.", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new FlannelException($"EC2 instance metadata (IMDSv2) at {_base} did not answer in time (a container needs a PUT response hop limit of 2)", ex);
        }
    }

    private async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(_base, "/latest/api/token"));
        request.Headers.TryAddWithoutValidation(TokenTtlHeader, "21600");
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new FlannelException($"EC2 instance metadata at {_base} refused an IMDSv2 session token: HTTP {(int)response.StatusCode}");
        }

        var token = (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Trim();
        return token.Length > 0 ? token : throw new FlannelException($"EC2 instance metadata at {_base} returned an empty IMDSv2 token");
    }
}
