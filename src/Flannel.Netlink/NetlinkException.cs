using System.Runtime.InteropServices;

namespace Flannel.Netlink;

/// <summary>
/// The kernel (or a socket call) refused an operation. Test <see cref="Error"/>, never the message text.
/// </summary>
/// <example>
/// <code>
/// try { await rtnl.Links.CreateAsync(new BridgeLinkSpec("br0"), ct); }
/// catch (NetlinkException ex) when (ex.Error == Errno.EEXIST) { /* already there */ }
/// </code>
/// </example>
public class NetlinkException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="operation">The operation, e.g. <c>RTM_NEWROUTE</c> or <c>bind</c>.</param>
    /// <param name="error">The error number.</param>
    /// <param name="extendedAckMessage">The kernel's extended-ack message, if any.</param>
    /// <param name="extendedAckOffset">The extended-ack offset of the offending attribute, if any.</param>
    /// <param name="sequence">The request's sequence number (0 for socket calls).</param>
    public NetlinkException(string operation, Errno error, string? extendedAckMessage = null, int? extendedAckOffset = null, uint sequence = 0)
        : base(FormatMessage(operation, error, extendedAckMessage))
    {
        Operation = operation;
        Error = error;
        ExtendedAckMessage = extendedAckMessage;
        ExtendedAckOffset = extendedAckOffset;
        Sequence = sequence;
        HResult = (int)error;
    }

    /// <summary>The operation that failed, e.g. <c>RTM_NEWROUTE</c>, <c>bind</c>, <c>setns</c>.</summary>
    public string Operation { get; }

    /// <summary>The error number the kernel returned.</summary>
    public Errno Error { get; }

    /// <summary>The kernel's extended-ack message (NLMSGERR_ATTR_MSG), if it sent one.</summary>
    public string? ExtendedAckMessage { get; }

    /// <summary>The byte offset of the offending attribute in the request (NLMSGERR_ATTR_OFFS), if the kernel sent one.</summary>
    public int? ExtendedAckOffset { get; }

    /// <summary>The netlink sequence number of the failed request (0 for socket calls).</summary>
    public uint Sequence { get; }

    private static string FormatMessage(string operation, Errno error, string? extack)
    {
        var text = $"{operation} failed: {error} ({Marshal.GetPInvokeErrorMessage((int)error)})";
        return string.IsNullOrEmpty(extack) ? text : text + ": " + extack;
    }
}
