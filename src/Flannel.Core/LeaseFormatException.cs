namespace Flannel;

/// <summary>
/// A lease record that cannot be read: a subnet key or a lease value (JSON) that does not follow flannel's format.
/// Stores skip such records with a warning naming the key; the message says what is wrong and where.
/// </summary>
public sealed class LeaseFormatException : FlannelException
{
    /// <summary>Creates an exception with no details.</summary>
    public LeaseFormatException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What is wrong.</param>
    public LeaseFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The cause.</param>
    public LeaseFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
