using Amazon.EC2;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;

namespace Flannel.Cloud.Aws;

/// <summary>
/// Runs EC2 calls: retries throttling with exponential back-off on the injected clock and turns SDK exceptions into
/// <see cref="AwsApiException"/>s whose message says what to do (IAM action, quota, missing table).
/// </summary>
internal sealed class Ec2Caller
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _attempts;
    private readonly TimeSpan _baseDelay;

    public Ec2Caller(IAmazonEC2 client, TimeProvider time, ILogger logger, int attempts, TimeSpan baseDelay)
    {
        Client = client;
        _time = time;
        _logger = logger;
        _attempts = attempts;
        _baseDelay = baseDelay;
    }

    public IAmazonEC2 Client { get; }

    public async ValueTask<T> CallAsync<T>(string action, string? resource, Func<IAmazonEC2, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call(Client, cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonServiceException ex) when (ex.ErrorCode is "RequestLimitExceeded" or "Throttling" && attempt < _attempts)
            {
                var delay = TimeSpan.FromTicks(Math.Min(_baseDelay.Ticks * (1L << Math.Min(attempt - 1, 20)), TimeSpan.FromSeconds(20).Ticks));
                Log.Throttled(_logger, action, ex.ErrorCode, delay, attempt);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonServiceException ex) when (!string.IsNullOrEmpty(ex.ErrorCode))
            {
                throw new AwsApiException(action, ex.ErrorCode, ex.StatusCode, ex.RequestId, Describe(action, resource, ex.ErrorCode, ex.Message, ex.RequestId, attempt), ex);
            }
            catch (AmazonClientException ex)
            {
                throw new AwsApiException(action, string.Empty, 0, null, $"EC2 {action} failed before EC2 answered: {ex.Message}", ex);
            }
            catch (AmazonServiceException ex)
            {
                throw new AwsApiException(action, string.Empty, ex.StatusCode, ex.RequestId, $"EC2 {action} failed: HTTP {(int)ex.StatusCode}: {ex.Message}", ex);
            }
            catch (Exception ex) when (ex is System.Xml.XmlException or FormatException or InvalidDataException)
            {
                throw new AwsApiException(action, string.Empty, 0, null, $"EC2 {action} answered with a malformed response the SDK could not read: {ex.Message}", ex);
            }
            catch (HttpRequestException ex)
            {
                throw new AwsApiException(action, string.Empty, 0, null, $"EC2 {action}: cannot reach the EC2 endpoint: {ex.Message}", ex);
            }
        }
    }

    private static string Describe(string action, string? resource, string code, string message, string? requestId, int attempts)
    {
        var explanation = code switch
        {
            "UnauthorizedOperation" => $"the credentials are not allowed to call ec2:{action}; add \"ec2:{action}\" to the node's IAM policy (see docs/backends/aws-vpc.md for the full list)",
            "AuthFailure" => "EC2 could not validate the credentials (wrong or expired keys, or a clock far off)",
            "RouteLimitExceeded" => $"route table {resource} has reached its route quota (the adjustable VPC quota \"Routes per route table\"; raise it in Service Quotas, or use fewer, larger node subnets)",
            "InvalidRouteTableID.NotFound" => $"route table {resource} does not exist in this region (check Backend.RouteTableID)",
            "InvalidNetworkInterfaceID.NotFound" => "the network interface does not exist",
            "RequestLimitExceeded" or "Throttling" => $"EC2 kept throttling the account's API calls; gave up after {attempts} attempts",
            _ => null,
        };
        return $"EC2 {action} failed: {code}: {message}" + (explanation is null ? string.Empty : " — " + explanation) +
            (string.IsNullOrEmpty(requestId) ? string.Empty : $" [RequestId {requestId}]");
    }
}
