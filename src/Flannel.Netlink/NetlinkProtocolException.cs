namespace Flannel.Netlink;

/// <summary>
/// A netlink reply was malformed or unexpected (a truncated header, an attribute whose length runs past its
/// message, a value of the wrong size). Unknown attributes never raise it: they are preserved.
/// </summary>
/// <example>
/// <code>
/// catch (NetlinkProtocolException ex) { logger.LogError(ex, "kernel sent a malformed reply"); }
/// </code>
/// </example>
public sealed class NetlinkProtocolException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was wrong, naming the field and the value.</param>
    public NetlinkProtocolException(string message)
        : base(message)
    {
    }
}
