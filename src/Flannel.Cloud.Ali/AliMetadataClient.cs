using System.Net;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Ali;

/// <summary>
/// Reads the ECS instance metadata service: hardened (token) mode first, falling back to normal mode when the
/// token endpoint is not offered; transport failures are retried a bounded number of times.
/// </summary>
internal sealed class AliMetadataClient
{
    internal const string TokenTtlHeader = "X-aliyun-ecs-metadata-token-ttl-seconds";
    internal const string TokenHeader = "X-aliyun-ecs-metadata-token";

    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly int _attempts;
    private readonly TimeSpan _delay;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private string? _token;
    private bool _normalMode;

    public AliMetadataClient(HttpClient http, Uri baseUri, int attempts, TimeSpan delay, TimeProvider time, ILogger logger)
    {
        _http = http;
        _base = baseUri;
        _attempts = attempts;
        _delay = delay;
        _time = time;
        _logger = logger;
    }

    /// <summary>Reads one key under <c>/latest/meta-data/</c>; null when the key is absent and optional.</summary>
    public async ValueTask<string?> GetAsync(string key, bool required, CancellationToken cancellationToken)
    {
        string? lastReason = null;
        for (var attempt = 1; attempt <= _attempts; attempt++)
        {
            try
            {
                await EnsureTokenAsync(cancellationToken).ConfigureAwait(false);
                using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, "/latest/meta-data/" + key));
                if (_token is not null)
                {
                    request.Headers.TryAddWithoutValidation(TokenHeader, _token);
                }

                using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                    var value = body.Split('\n', 2)[0].Trim();
                    if (value.Length == 0)
                    {
                        throw new FlannelException($"Alibaba metadata key '{key}' at {_base} returned an empty value");
                    }

                    return value;
                }

                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    return required
                        ? throw new FlannelException($"Alibaba metadata key '{key}' is not available at {_base} (HTTP 404); is this an ECS instance in a VPC?")
                        : null;
                }

                if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    // an expired or refused token: fetch a new one on the next attempt
                    _token = null;
                }

                lastReason = $"HTTP {(int)response.StatusCode}";
            }
            catch (HttpRequestException ex)
            {
                lastReason = ex.Message;
            }
            catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                lastReason = "timed out: " + ex.Message;
            }

            Log.MetadataRetry(_logger, key, lastReason, attempt, _attempts);
            if (attempt < _attempts)
            {
                await Task.Delay(_delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }

        throw new FlannelException(
            $"Alibaba metadata service at {_base} is unreachable or failing: reading '{key}' failed {_attempts} times, last: {lastReason}. " +
            "The ali-vpc backend must run on an ECS instance (or set AliVpcBackendOptions.MetadataEndpoint).");
    }

    private async ValueTask EnsureTokenAsync(CancellationToken cancellationToken)
    {
        if (_token is not null || _normalMode)
        {
            return;
        }

        using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(_base, "/latest/api/token"));
        request.Headers.TryAddWithoutValidation(TokenTtlHeader, "21600");
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            var token = (await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).Trim();
            if (token.Length > 0)
            {
                _token = token;
                return;
            }
        }
        else if ((int)response.StatusCode >= 500)
        {
            throw new HttpRequestException($"metadata token endpoint answered HTTP {(int)response.StatusCode}");
        }

        _normalMode = true;
        Log.MetadataNormalMode(_logger, (int)response.StatusCode);
    }
}
