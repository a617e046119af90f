namespace Flannel;

/// <summary>Base class of every exception Flannel.Net raises for a flannel-level failure.</summary>
public class FlannelException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public FlannelException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public FlannelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public FlannelException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>True when retrying the same operation later may succeed (a store outage, a lost race).</summary>
    public virtual bool IsTransient => false;

    /// <summary>
    /// True when the failure is about credentials: none found, wrong, expired or revoked keys or tokens, or
    /// credentials that lack a permission the call needs (a cloud's IAM or RAM policy).
    /// </summary>
    public virtual bool IsCredentialsError => false;
}
