using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Ali;

/// <summary>
/// A thin client for the VPC API (Version 2016-04-28, RPC style, signature version 1.0): the four actions the
/// backend needs, common parameters, signing, and mapping of error answers to <see cref="AliApiException"/>.
/// </summary>
internal sealed class AliVpcClient
{
    internal const string ApiVersion = "2016-04-28";

    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly AliCredentials _credentials;
    private readonly TimeProvider _time;
    private readonly Func<string> _nonce;
    private readonly ILogger _logger;

    public AliVpcClient(HttpClient http, Uri endpoint, AliCredentials credentials, string regionId, TimeProvider time, ILogger logger, Func<string>? nonce = null)
    {
        _http = http;
        _endpoint = endpoint;
        _credentials = credentials;
        RegionId = regionId;
        _time = time;
        _logger = logger;
        _nonce = nonce ?? (() => Guid.NewGuid().ToString());
    }

    public string RegionId { get; }

    /// <summary>Every route table of the VPC (VRouter tables), all pages.</summary>
    public async ValueTask<IReadOnlyList<AliRouteTableInfo>> DescribeRouteTableListAsync(string vpcId, CancellationToken cancellationToken)
    {
        var result = new List<AliRouteTableInfo>();
        for (var page = 1; page <= 100; page++)
        {
            var response = await SendAsync(
                "DescribeRouteTableList",
                [new("VpcId", vpcId), new("RouterType", "VRouter"), new("PageNumber", page.ToString(CultureInfo.InvariantCulture)), new("PageSize", "50")],
                AliJsonContext.Default.DescribeRouteTableListResponse,
                cancellationToken).ConfigureAwait(false);
            var items = response.RouterTableList?.RouterTableListType ?? [];
            result.AddRange(items);
            if (items.Count == 0 || result.Count >= response.TotalCount)
            {
                break;
            }
        }

        return result;
    }

    /// <summary>The custom route entries of a table, optionally for one destination, all pages.</summary>
    public async ValueTask<IReadOnlyList<AliRouteEntry>> DescribeRouteEntryListAsync(string routeTableId, string? destination, CancellationToken cancellationToken)
    {
        var result = new List<AliRouteEntry>();
        string? token = null;
        for (var page = 0; page < 1000; page++)
        {
            List<KeyValuePair<string, string>> parameters =
            [
                new("RouteTableId", routeTableId), new("RouteEntryType", "Custom"), new("MaxResult", "100"),
            ];
            if (destination is not null)
            {
                parameters.Add(new("DestinationCidrBlock", destination));
            }

            if (!string.IsNullOrEmpty(token))
            {
                parameters.Add(new("NextToken", token));
            }

            var response = await SendAsync("DescribeRouteEntryList", parameters, AliJsonContext.Default.DescribeRouteEntryListResponse, cancellationToken).ConfigureAwait(false);
            result.AddRange(response.RouteEntrys?.RouteEntry ?? []);
            token = response.NextToken;
            if (string.IsNullOrEmpty(token))
            {
                break;
            }
        }

        return result;
    }

    /// <summary>Creates an Instance-next-hop entry; <paramref name="clientToken"/> is Alibaba's idempotency token (the same value on retries of one logical create).</summary>
    public async ValueTask CreateRouteEntryAsync(string routeTableId, string destination, string instanceId, string clientToken, CancellationToken cancellationToken)
    {
        await SendAsync(
            "CreateRouteEntry",
            [
                new("RouteTableId", routeTableId), new("DestinationCidrBlock", destination), new("NextHopType", "Instance"),
                new("NextHopId", instanceId), new("ClientToken", clientToken), new("Description", "flannel"),
            ],
            AliJsonContext.Default.CreateRouteEntryResponse,
            cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DeleteRouteEntryAsync(string routeTableId, string destination, string nextHopId, CancellationToken cancellationToken)
    {
        await SendAsync(
            "DeleteRouteEntry",
            [new("RouteTableId", routeTableId), new("DestinationCidrBlock", destination), new("NextHopId", nextHopId)],
            AliJsonContext.Default.AliRequestIdResponse,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Signs and sends one RPC call, returning the parsed success answer or throwing <see cref="AliApiException"/>.</summary>
    internal async ValueTask<T> SendAsync<T>(string action, IEnumerable<KeyValuePair<string, string>> operationParameters, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Action"] = action,
            ["Version"] = ApiVersion,
            ["Format"] = "JSON",
            ["AccessKeyId"] = _credentials.AccessKeyId,
            ["SignatureMethod"] = "HMAC-SHA1",
            ["SignatureVersion"] = "1.0",
            ["SignatureNonce"] = _nonce(),
            ["Timestamp"] = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["RegionId"] = RegionId,
        };
        foreach (var (name, value) in operationParameters)
        {
            parameters[name] = value;
        }

        var canonical = AliRpcSigner.CanonicalQuery(parameters);
        var stringToSign = AliRpcSigner.StringToSign("GET", canonical);
        var signature = AliRpcSigner.Sign(stringToSign, _credentials.AccessKeySecret);
        var uri = new Uri(_endpoint, "/?" + canonical + "&Signature=" + AliRpcSigner.PercentEncode(signature));

        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new AliApiException($"Alibaba Cloud VPC {action}: cannot reach {_endpoint.GetLeftPart(UriPartial.Authority)}: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AliApiException($"Alibaba Cloud VPC {action}: no answer from {_endpoint.GetLeftPart(UriPartial.Authority)} within the request timeout", ex);
        }

        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    return JsonSerializer.Deserialize(body, typeInfo)
                        ?? throw new AliApiException($"Alibaba Cloud VPC {action} answered HTTP {(int)response.StatusCode} with an empty (null) JSON body");
                }
                catch (JsonException ex)
                {
                    throw new AliApiException($"Alibaba Cloud VPC {action} answered HTTP {(int)response.StatusCode} with malformed JSON: {ex.Message}", ex);
                }
            }

            AliErrorResponse? error = null;
            try
            {
                error = JsonSerializer.Deserialize(body, AliJsonContext.Default.AliErrorResponse);
            }
            catch (JsonException)
            {
            }

            if (error?.Code is not { Length: > 0 } code)
            {
                throw new AliApiException(action, string.Empty, $"HTTP {(int)response.StatusCode} without an Alibaba error document", null, response.StatusCode);
            }

            if (code is "SignatureDoesNotMatch" or "IncompleteSignature")
            {
                Log.SignatureMismatch(_logger, stringToSign, error.Message);
            }

            throw new AliApiException(action, code, error.Message, error.RequestId, response.StatusCode, Explain(action, code));
        }
    }

    private static string? Explain(string action, string code)
    {
        if (code.StartsWith("Forbidden", StringComparison.Ordinal) || code.StartsWith("NoPermission", StringComparison.Ordinal))
        {
            return $"the AccessKey lacks the RAM permission vpc:{action}; grant it (see docs/backends/ali-vpc.md)";
        }

        return code switch
        {
            "QuotaExceeded" or "QuotaExceeded.RouteEntry" => "the route table has reached its custom route-entry quota (an account quota, not a fixed number; raise it in the Quota Center or use fewer nodes)",
            "InvalidAccessKeyId.NotFound" or "InvalidAccessKeyId.Inactive" => "the AccessKeyID is unknown or disabled",
            "SignatureDoesNotMatch" => "the AccessKeySecret does not match the AccessKeyID",
            "InvalidRouteTableId.NotFound" => "the route table does not exist in this region",
            "InvalidInstanId.NotFound" or "InvalidInstanceId.NotFound" or "InvalidNextHopId.NotFound" => "the next-hop instance does not exist in this region",
            _ => null,
        };
    }
}
