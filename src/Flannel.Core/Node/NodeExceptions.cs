namespace Flannel.Node;

/// <summary>The node's lease was removed from the store (expired or deleted) and could not be taken back.</summary>
public sealed class LeaseRevokedException : FlannelException
{
    /// <summary>Creates the exception.</summary>
    public LeaseRevokedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public LeaseRevokedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public LeaseRevokedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The backend could not be created or failed while running (device, kernel or cloud failure).</summary>
public sealed class BackendUnavailableException : FlannelException
{
    /// <summary>Creates the exception.</summary>
    public BackendUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public BackendUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public BackendUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The lease store failed for longer than the node tolerates, or in a way that retrying cannot fix.</summary>
public sealed class LeaseStoreUnavailableException : FlannelException
{
    /// <summary>Creates the exception.</summary>
    public LeaseStoreUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public LeaseStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public LeaseStoreUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override bool IsTransient => true;
}
