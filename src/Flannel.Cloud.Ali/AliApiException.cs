using System.Net;

namespace Flannel.Cloud.Ali;

/// <summary>An error answered by the Alibaba Cloud VPC API (its <c>Code</c>, <c>Message</c> and <c>RequestId</c>).</summary>
public sealed class AliApiException : FlannelException
{
    private static readonly HashSet<string> TransientCodes = new(StringComparer.Ordinal)
    {
        "TaskConflict", "OperationConflict", "IncorrectRouteEntryStatus", "IncorrectVpcStatus", "Throttling",
        "Throttling.User", "Throttling.Api", "ServiceUnavailable", "SystemBusy", "InternalError", "LastTokenProcessing",
    };

    /// <summary>Creates an exception with no details.</summary>
    public AliApiException()
        : this("the Alibaba Cloud API failed")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public AliApiException(string message)
        : base(message)
    {
        Code = string.Empty;
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public AliApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Code = string.Empty;
    }

    /// <summary>Creates an exception for an API error answer.</summary>
    /// <param name="action">The API action that failed, for example <c>CreateRouteEntry</c>.</param>
    /// <param name="code">The error code, for example <c>TaskConflict</c>.</param>
    /// <param name="apiMessage">The service's message.</param>
    /// <param name="requestId">The service's request id.</param>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="explanation">Our explanation of what the code means for flannel, or null.</param>
    public AliApiException(string action, string code, string? apiMessage, string? requestId, HttpStatusCode statusCode, string? explanation = null)
        : base(Format(action, code, apiMessage, requestId, statusCode, explanation))
    {
        Action = action;
        Code = code;
        ApiMessage = apiMessage;
        RequestId = requestId;
        StatusCode = statusCode;
    }

    /// <summary>The API action that failed.</summary>
    public string? Action { get; }

    /// <summary>The error code (empty when the service sent none).</summary>
    public string Code { get; }

    /// <summary>The service's own message.</summary>
    public string? ApiMessage { get; }

    /// <summary>The service's request id, for support cases.</summary>
    public string? RequestId { get; }

    /// <summary>The HTTP status of the answer.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>True for codes Alibaba documents as "retry later" (TaskConflict, IncorrectRouteEntryStatus, throttling) and 5xx.</summary>
    public override bool IsTransient => TransientCodes.Contains(Code) || (int)StatusCode >= 500;

    /// <inheritdoc />
    public override bool IsCredentialsError =>
        IsPermissionDenied || Code.StartsWith("InvalidAccessKeyId", StringComparison.Ordinal) || Code.StartsWith("InvalidSecurityToken", StringComparison.Ordinal)
        || Code is "SignatureDoesNotMatch" or "IncompleteSignature";

    /// <summary>True when the code says the caller lacks a RAM permission.</summary>
    public bool IsPermissionDenied => Code.StartsWith("Forbidden", StringComparison.Ordinal) || Code.StartsWith("NoPermission", StringComparison.Ordinal);

    private static string Format(string action, string code, string? apiMessage, string? requestId, HttpStatusCode statusCode, string? explanation) =>
        $"Alibaba Cloud VPC {action} failed: {code} (HTTP {(int)statusCode}): {apiMessage}" +
        (explanation is null ? string.Empty : " — " + explanation) +
        (string.IsNullOrEmpty(requestId) ? string.Empty : $" [RequestId {requestId}]");
}
