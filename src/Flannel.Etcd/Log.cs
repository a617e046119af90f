using Microsoft.Extensions.Logging;

namespace Flannel.Etcd;

internal static partial class Log
{
    /// <remarks>Warning the first time a key is skipped at a revision, Debug when the same record is read again.</remarks>
    [LoggerMessage(EventId = 5000, Message = "Skipping etcd key {Key}: {Reason}")]
    public static partial void SkippingKey(ILogger logger, LogLevel level, string key, string reason);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "etcd watch on {Prefix} failed at revision {Revision}; reconnecting in {Delay}")]
    public static partial void WatchFailed(ILogger logger, Exception exception, string prefix, long revision, TimeSpan delay);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "etcd watch on {Prefix} cannot resume after revision {Revision} (compacted at {CompactRevision}); re-listing")]
    public static partial void WatchCompacted(ILogger logger, string prefix, long revision, long compactRevision);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "etcd watch on {Prefix} (re)established from revision {Revision}")]
    public static partial void WatchEstablished(ILogger logger, string prefix, long revision);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "etcd store revision {StoreRevision} is behind the watched revision {Revision} (store recreated?); re-listing")]
    public static partial void StoreReset(ILogger logger, long storeRevision, long revision);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Debug, Message = "Could not revoke the superseded etcd lease {LeaseId}; it expires on its own")]
    public static partial void RevokeFailed(ILogger logger, Exception exception, long leaseId);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning, Message = "No TLS client certificate configured for etcd endpoints {Endpoints}; using plain HTTP")]
    public static partial void PlainHttp(ILogger logger, string endpoints);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "Authenticated to etcd as {User}")]
    public static partial void Authenticated(ILogger logger, string user);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Warning, Message = "etcd answered as another store (cluster id {PreviousClusterId:x} -> {ClusterId:x}, revision {PreviousRevision} -> {Revision}: recreated or restored?); dropped {Dropped} decoded leases")]
    public static partial void StoreChanged(ILogger logger, ulong previousClusterId, ulong clusterId, long previousRevision, long revision, int dropped);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Warning, Message = "etcd watch on {Prefix} at revision {Revision} follows a store that was replaced (another cluster id, or its revision went back); re-listing")]
    public static partial void WatchStoreReplaced(ILogger logger, string prefix, long revision);
}
