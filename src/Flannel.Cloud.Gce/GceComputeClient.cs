using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Gce;

/// <summary>
/// A thin typed client for the Compute Engine REST v1 calls the backend needs (routes, instances, networks, global
/// operations), with bearer tokens, bounded retries of 429/5xx and Google's error documents mapped to
/// <see cref="GceApiException"/>.
/// </summary>
internal sealed class GceComputeClient
{
    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly IGceTokenSource _tokens;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GceBackendOptions _options;

    public GceComputeClient(HttpClient http, GceBackendOptions options, IGceTokenSource tokens, TimeProvider time, ILogger logger)
    {
        _http = http;
        _base = options.ComputeEndpoint;
        _options = options;
        _tokens = tokens;
        _time = time;
        _logger = logger;
    }

    public ValueTask<GceRoute?> GetRouteAsync(string project, string name, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, $"projects/{E(project)}/global/routes/{E(name)}", null, GceJsonContext.Default.GceRoute, "compute.routes.get", true, cancellationToken);

    public async ValueTask<GceOperation> InsertRouteAsync(string project, GceRoute route, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.Serialize(route, GceJsonContext.Default.GceRoute);
        return (await SendAsync(HttpMethod.Post, $"projects/{E(project)}/global/routes?requestId={Guid.NewGuid()}", body, GceJsonContext.Default.GceOperation, "compute.routes.create", false, cancellationToken).ConfigureAwait(false))!;
    }

    public ValueTask<GceOperation?> DeleteRouteAsync(string project, string name, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Delete, $"projects/{E(project)}/global/routes/{E(name)}?requestId={Guid.NewGuid()}", null, GceJsonContext.Default.GceOperation, "compute.routes.delete", true, cancellationToken);

    public async ValueTask<IReadOnlyList<GceRoute>> ListRoutesAsync(string project, string filter, CancellationToken cancellationToken)
    {
        var routes = new List<GceRoute>();
        string? page = null;
        for (var i = 0; i < 1000; i++)
        {
            var path = $"projects/{E(project)}/global/routes?filter={E(filter)}&maxResults=500" + (page is null ? string.Empty : "&pageToken=" + E(page));
            var list = await SendAsync(HttpMethod.Get, path, null, GceJsonContext.Default.GceRouteList, "compute.routes.list", false, cancellationToken).ConfigureAwait(false);
            routes.AddRange(list!.Items ?? []);
            page = list.NextPageToken;
            if (string.IsNullOrEmpty(page))
            {
                break;
            }
        }

        return routes;
    }

    public async ValueTask<GceInstance> GetInstanceAsync(string project, string zone, string name, CancellationToken cancellationToken) =>
        (await SendAsync(HttpMethod.Get, $"projects/{E(project)}/zones/{E(zone)}/instances/{E(name)}", null, GceJsonContext.Default.GceInstance, "compute.instances.get", false, cancellationToken).ConfigureAwait(false))!;

    public async ValueTask<GceNetwork> GetNetworkAsync(string project, string name, CancellationToken cancellationToken) =>
        (await SendAsync(HttpMethod.Get, $"projects/{E(project)}/global/networks/{E(name)}", null, GceJsonContext.Default.GceNetwork, "compute.networks.get", false, cancellationToken).ConfigureAwait(false))!;

    public async ValueTask<GceOperation> GetGlobalOperationAsync(string project, string name, CancellationToken cancellationToken) =>
        (await SendAsync(HttpMethod.Get, $"projects/{E(project)}/global/operations/{E(name)}", null, GceJsonContext.Default.GceOperation, "compute.globalOperations.get", false, cancellationToken).ConfigureAwait(false))!;

    /// <summary>Polls a global operation until DONE (every <see cref="GceBackendOptions.OperationPollInterval"/>, at most <see cref="GceBackendOptions.OperationMaxPolls"/> times).</summary>
    public async ValueTask WaitAsync(string project, GceOperation operation, string what, CancellationToken cancellationToken)
    {
        var current = operation;
        for (var poll = 0; ; poll++)
        {
            if (current.Error?.Errors is { Count: > 0 } errors)
            {
                var code = errors[0].Code ?? string.Empty;
                var status = (HttpStatusCode)(current.HttpErrorStatusCode ?? 400);
                var text = string.Join("; ", errors.Select(e => $"{e.Code}: {e.Message}"));
                var explanation = code == "QUOTA_EXCEEDED"
                    ? " — the project's route quota is reached (Compute Engine quota \"Routes\", 100 by default in flannel's day, adjustable; raise it or use fewer nodes)"
                    : string.Empty;
                throw new GceApiException(status, code, $"GCE operation {current.Name} ({what}) failed: {text}{explanation}");
            }

            if (string.Equals(current.Status, "DONE", StringComparison.Ordinal))
            {
                return;
            }

            if (poll >= _options.OperationMaxPolls)
            {
                throw new FlannelException($"gce: timed out waiting for operation {current.Name} ({what}): still {current.Status} after {_options.OperationMaxPolls} polls");
            }

            if (poll % 5 == 4)
            {
                Log.WaitingForOperation(_logger, current.Name ?? "?", current.Status, poll + 1, _options.OperationMaxPolls);
            }

            await Task.Delay(_options.OperationPollInterval, _time, cancellationToken).ConfigureAwait(false);
            current = await GetGlobalOperationAsync(project, current.Name ?? throw new GceApiException("GCE returned an operation without a name"), cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<T?> SendAsync<T>(HttpMethod method, string path, string? body, JsonTypeInfo<T> typeInfo, string permission, bool notFoundIsNull, CancellationToken cancellationToken)
        where T : class
    {
        var call = method.Method + " " + path.Split('?')[0];
        for (var attempt = 1; ; attempt++)
        {
            var token = await _tokens.GetAccessTokenAsync(cancellationToken).ConfigureAwait(false);
            using var request = new HttpRequestMessage(method, new Uri(_base, path));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (body is not null)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                throw new GceApiException($"gce: {call}: cannot reach {_base.GetLeftPart(UriPartial.Authority)}: {ex.Message}", ex);
            }
            catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new GceApiException($"gce: {call}: no answer within the request timeout", ex);
            }

            using (response)
            {
                var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    try
                    {
                        return JsonSerializer.Deserialize(bytes, typeInfo) ?? throw new GceApiException($"gce: {call} answered HTTP {(int)response.StatusCode} with a null body");
                    }
                    catch (JsonException ex)
                    {
                        throw new GceApiException($"gce: {call} answered HTTP {(int)response.StatusCode} with malformed JSON: {ex.Message}", ex);
                    }
                }

                if (response.StatusCode == HttpStatusCode.NotFound && notFoundIsNull)
                {
                    return null;
                }

                var error = ParseError(bytes);
                var reason = error?.Errors?.FirstOrDefault()?.Reason ?? string.Empty;
                var exception = Map(call, response.StatusCode, reason, error?.Message, permission);
                if (exception.IsTransient && attempt < _options.RetryAttempts)
                {
                    var delay = TimeSpan.FromTicks(_options.RetryBaseDelay.Ticks * (1L << Math.Min(attempt - 1, 10)));
                    Log.Retrying(_logger, call, (int)response.StatusCode, reason, delay, attempt);
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                throw exception;
            }
        }
    }

    private static GceErrorBody? ParseError(byte[] bytes)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, GceJsonContext.Default.GceErrorEnvelope)?.Error;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static GceApiException Map(string call, HttpStatusCode status, string reason, string? message, string permission)
    {
        var text = $"gce: {call} failed: HTTP {(int)status}" + (reason.Length > 0 ? $" {reason}" : string.Empty) + (message is null ? string.Empty : $": {message}");
        if (reason is "quotaExceeded" or "QUOTA_EXCEEDED")
        {
            return new GceApiException(status, reason, text + " — the project's quota is reached (Compute Engine quota \"Routes\" for routes; adjustable)");
        }

        if (status == HttpStatusCode.Forbidden && reason is not ("rateLimitExceeded" or "userRateLimitExceeded"))
        {
            var extra = permission == "compute.routes.create" ? " (and compute.networks.updatePolicy on the network)" : string.Empty;
            return new GceApiException(status, reason, $"{text} — the service account lacks the IAM permission {permission}{extra}, or the VM lacks the compute read-write scope", permission);
        }

        if (status == HttpStatusCode.Unauthorized)
        {
            return new GceApiException(status, reason, text + " — the access token was refused (expired, revoked, or for another audience)");
        }

        return new GceApiException(status, reason, text);
    }

    private static string E(string segment) => Uri.EscapeDataString(segment);
}
