using Microsoft.Extensions.Logging;

namespace Flannel.Netlink.Diagnostics;

/// <summary>Netlink log messages (EventIds 2000-2999).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Debug, Message = "rtnetlink client opened (port {PortId}, namespace {Namespace})")]
    public static partial void ClientOpened(ILogger logger, uint portId, string nameSpace);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "{Operation} dump interrupted by concurrent changes (attempt {Attempt}); retrying")]
    public static partial void DumpInterrupted(ILogger logger, string operation, int attempt);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "could not read the rest of an abandoned {Operation} dump ({Reason}); the next dump on this client may fail with EBUSY")]
    public static partial void DumpDrainFailed(ILogger logger, string operation, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "rtnetlink monitor lost events ({Reason}); consumers must resynchronise")]
    public static partial void MonitorOverflow(ILogger logger, string reason);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "batch of {Count} requests executed, {Failed} failed")]
    public static partial void BatchExecuted(ILogger logger, int count, int failed);
}
