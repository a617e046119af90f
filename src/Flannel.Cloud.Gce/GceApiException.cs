using System.Net;

namespace Flannel.Cloud.Gce;

/// <summary>A Compute Engine API call or operation failed: the HTTP status, Google's reason/code and what it means for flannel.</summary>
public sealed class GceApiException : FlannelException
{
    /// <summary>Creates an exception with no details.</summary>
    public GceApiException()
        : this("a Compute Engine call failed")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public GceApiException(string message)
        : base(message)
    {
        Reason = string.Empty;
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public GceApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Reason = string.Empty;
    }

    /// <summary>Creates an exception for an API answer.</summary>
    /// <param name="statusCode">The HTTP status (for a failed operation, its <c>httpErrorStatusCode</c>).</param>
    /// <param name="reason">Google's reason (<c>notFound</c>, <c>forbidden</c>) or operation error code (<c>QUOTA_EXCEEDED</c>).</param>
    /// <param name="message">The full, explained message.</param>
    /// <param name="missingPermission">The IAM permission the call needs, when the answer was a permission error.</param>
    public GceApiException(HttpStatusCode statusCode, string reason, string message, string? missingPermission = null)
        : base(message)
    {
        StatusCode = statusCode;
        Reason = reason;
        MissingPermission = missingPermission;
    }

    /// <summary>The HTTP status.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>Google's reason or operation error code (empty when none was given).</summary>
    public string Reason { get; }

    /// <summary>The IAM permission that was missing (for example <c>compute.routes.create</c>), when known.</summary>
    public string? MissingPermission { get; }

    /// <summary>True when the project's quota (for example routes per project) was reached.</summary>
    public bool IsQuotaExceeded => Reason is "QUOTA_EXCEEDED" or "quotaExceeded";

    /// <inheritdoc />
    public override bool IsCredentialsError =>
        StatusCode == HttpStatusCode.Unauthorized || (StatusCode == HttpStatusCode.Forbidden && Reason is not ("rateLimitExceeded" or "userRateLimitExceeded"));

    /// <inheritdoc />
    public override bool IsTransient =>
        StatusCode == HttpStatusCode.TooManyRequests || (int)StatusCode >= 500 || Reason is "rateLimitExceeded" or "userRateLimitExceeded";
}
