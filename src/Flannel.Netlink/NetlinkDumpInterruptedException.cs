namespace Flannel.Netlink;

/// <summary>
/// A dump was interrupted by concurrent changes (NLM_F_DUMP_INTR) on every attempt; the caller may retry later.
/// </summary>
/// <example>
/// <code>
/// catch (NetlinkDumpInterruptedException) { await Task.Delay(100, ct); /* and dump again */ }
/// </code>
/// </example>
public sealed class NetlinkDumpInterruptedException : NetlinkException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="operation">The dump request, e.g. <c>RTM_GETROUTE</c>.</param>
    /// <param name="attempts">How many attempts were made.</param>
    public NetlinkDumpInterruptedException(string operation, int attempts)
        : base(operation, Errno.EINTR, $"dump interrupted by concurrent changes on all {attempts} attempts")
    {
        Attempts = attempts;
    }

    /// <summary>How many attempts were made.</summary>
    public int Attempts { get; }
}
