using Microsoft.Extensions.Logging;

namespace Flannel.Sqlite;

internal static partial class Log
{
    [LoggerMessage(EventId = 5500, Level = LogLevel.Information, Message = "Opened the lease database {Path} (schema version {Version})")]
    public static partial void Opened(ILogger logger, string path, int version);

    /// <remarks>Warning the first time a record is skipped at a revision, Debug when the same record is read again.</remarks>
    [LoggerMessage(EventId = 5501, Message = "Skipping lease record {Key}: {Reason}")]
    public static partial void SkippingRecord(ILogger logger, LogLevel level, string key, string reason);

    [LoggerMessage(EventId = 5502, Level = LogLevel.Information, Message = "Lease {Key} expired at {Expiration}; deleted at revision {Revision}")]
    public static partial void Expired(ILogger logger, string key, DateTimeOffset expiration, long revision);

    [LoggerMessage(EventId = 5503, Level = LogLevel.Information, Message = "Watcher at revision {Revision} cannot follow the event log (pruned up to {Horizon}, or the file was restored or created again); sending a snapshot")]
    public static partial void WatcherResync(ILogger logger, long revision, long horizon);

    [LoggerMessage(EventId = 5504, Level = LogLevel.Warning, Message = "Lease database poll failed; retrying in {Delay}")]
    public static partial void PollFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(EventId = 5505, Level = LogLevel.Information, Message = "Network configuration stored in {Path} at revision {Revision}")]
    public static partial void ConfigStored(ILogger logger, string path, long revision);

    [LoggerMessage(EventId = 5506, Level = LogLevel.Debug, Message = "A lease is due to expire; sweeping expired leases")]
    public static partial void SweepDue(ILogger logger);
}
