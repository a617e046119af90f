using System.Net;

namespace Flannel.Cloud.Aws;

/// <summary>An EC2 API call failed: the action, EC2's error code and request id, and what it means for flannel.</summary>
public sealed class AwsApiException : FlannelException
{
    /// <summary>Creates an exception with no details.</summary>
    public AwsApiException()
        : this("an EC2 call failed")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public AwsApiException(string message)
        : base(message)
    {
        Code = string.Empty;
        Action = string.Empty;
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public AwsApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Code = string.Empty;
        Action = string.Empty;
    }

    /// <summary>Creates an exception for an EC2 error answer.</summary>
    /// <param name="action">The EC2 action, for example <c>CreateRoute</c>.</param>
    /// <param name="code">EC2's error code.</param>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="requestId">EC2's request id.</param>
    /// <param name="message">The full message (already explained).</param>
    /// <param name="innerException">The SDK exception.</param>
    public AwsApiException(string action, string code, HttpStatusCode statusCode, string? requestId, string message, Exception? innerException)
        : base(message, innerException)
    {
        Action = action;
        Code = code;
        StatusCode = statusCode;
        RequestId = requestId;
    }

    /// <summary>The EC2 action that failed.</summary>
    public string Action { get; }

    /// <summary>EC2's error code, for example <c>UnauthorizedOperation</c> (empty when there was none).</summary>
    public string Code { get; }

    /// <summary>The HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>EC2's request id, for support cases.</summary>
    public string? RequestId { get; }

    /// <summary>True when the IAM policy lacks <c>ec2:</c><see cref="Action"/>.</summary>
    public bool IsPermissionDenied => Code is "UnauthorizedOperation" or "AuthFailure";

    /// <inheritdoc />
    public override bool IsCredentialsError =>
        IsPermissionDenied || Code is "InvalidClientTokenId" or "ExpiredToken" or "RequestExpired" or "SignatureDoesNotMatch" or "IncompleteSignature" or "MissingAuthenticationToken" or "OptInRequired";

    /// <inheritdoc />
    public override bool IsTransient => Code is "RequestLimitExceeded" or "Throttling" or "InternalError" or "Unavailable" || (int)StatusCode >= 500;
}
