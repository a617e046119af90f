namespace Flannel;

/// <summary>
/// The lease store holds no network configuration (etcd: no <c>&lt;prefix&gt;/config</c> key) and none was given in
/// code. Transient: flanneld waits for an operator to write it, retrying every second.
/// </summary>
public sealed class NetworkConfigNotFoundException : FlannelException
{
    /// <summary>Creates an exception with the default message.</summary>
    public NetworkConfigNotFoundException()
        : base("flannel network configuration not found in the lease store; write it (etcd: put <prefix>/config with the etcd v3 API) or pass LeaseManagerOptions.NetworkConfig")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What is missing, and where.</param>
    public NetworkConfigNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What is missing.</param>
    /// <param name="innerException">The cause.</param>
    public NetworkConfigNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>True: the configuration may be written later.</summary>
    public override bool IsTransient => true;
}
