namespace Flannel;

/// <summary>
/// Every attempt to create a lease lost a race against other nodes creating the same subnet at the same time.
/// Transient: acquiring again will normally succeed.
/// </summary>
public sealed class LeaseConflictException : FlannelException
{
    /// <summary>Creates an exception with no details.</summary>
    public LeaseConflictException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public LeaseConflictException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public LeaseConflictException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>True: the race is over by the next attempt.</summary>
    public override bool IsTransient => true;
}
